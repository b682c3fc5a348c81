using FluentAssertions;
using TensorZero.Proxy.Routing;
using Xunit;

namespace TensorZero.Proxy.Tests.Inference;

public sealed class UuidV7Tests
{
    private static readonly DateTimeOffset At = new(2026, 11, 21, 22, 30, 15, 123, TimeSpan.Zero);

    [Fact]
    public void Has_the_layout_of_the_runtimes_version_7_guid()
    {
        var ours = UuidV7.Create(At);
        var runtimes = Guid.CreateVersion7(At);

        ours.Version.Should().Be(7);
        (ours.Variant >> 2).Should().Be(0b10, "RFC 9562 variant bits are 10");
        ours.ToString()[..13].Should().Be(runtimes.ToString()[..13], "the first 48 bits are the same Unix milliseconds");
        VariantSampler.UuidV7Milliseconds(ours).Should().Be(At.ToUnixTimeMilliseconds());
    }

    [Fact]
    public void Ids_of_the_same_millisecond_differ()
    {
        var ids = Enumerable.Range(0, 100_000).Select(_ => UuidV7.Create(At)).ToHashSet();

        ids.Should().HaveCount(100_000);
    }
}
