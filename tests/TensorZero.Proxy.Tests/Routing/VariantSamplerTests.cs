using System.Collections.Immutable;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Routing;

namespace TensorZero.Proxy.Tests.Routing;

public sealed class VariantSamplerTests
{
    private static ExperimentationConfig Weights(string fallbacks, params (string Name, double Weight)[] candidates) => new(
        [.. candidates.Select(c => new KeyValuePair<string, double>(c.Name, c.Weight))],
        fallbacks.Length == 0 ? [] : [.. fallbacks.Split(',')]);

    /// <summary>UUIDv7-shaped ids from a seeded generator: the statistics below are reproducible.</summary>
    private static IEnumerable<Guid> Episodes(int count, int seed = 42)
    {
        var random = new Random(seed);
        var bytes = new byte[16];
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(bytes);
            bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
            bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
            yield return new Guid(bytes, bigEndian: true);
        }
    }

    [Fact]
    public void Order_SameFunctionAndEpisode_IsAlwaysTheSame()
    {
        var experimentation = Weights("", ("a", 1), ("b", 1), ("c", 1));
        foreach (var episode in Episodes(200))
        {
            var first = VariantSampler.Order(experimentation, "f", episode);
            VariantSampler.Order(experimentation, "f", episode).Should().Equal(first);
        }
    }

    [Fact]
    public void Order_DifferentFunctions_SampleIndependently()
    {
        var experimentation = Weights("", ("a", 1), ("b", 1));
        var differ = Episodes(1000).Count(e => VariantSampler.Order(experimentation, "f", e)[0] != VariantSampler.Order(experimentation, "g", e)[0]);

        differ.Should().BeInRange(400, 600, "two independent fair coins differ about half the time");
    }

    public static TheoryData<double[]> WeightSets => new()
    {
        new[] { 0.7, 0.2, 0.1 },
        new[] { 1.0, 1.0 },
        new[] { 0.5, 0.25, 0.25 },
        new[] { 0.99, 0.01 },
        new[] { 3.0, 1.0, 0.0 },
    };

    [Theory]
    [MemberData(nameof(WeightSets))]
    public void Order_FirstChoices_FollowTheWeights_Over10000Episodes(double[] weights)
    {
        // Tolerance: 4.5 standard deviations of a binomial count (a false failure about once in 150,000 runs;
        // with the fixed seed the outcome is in fact reproducible).
        const int n = 10_000;
        var candidates = weights.Select((w, i) => ($"v{i}", w)).ToArray();
        var experimentation = Weights("", candidates);
        var counts = candidates.ToDictionary(c => c.Item1, _ => 0);
        foreach (var episode in Episodes(n))
        {
            counts[VariantSampler.Order(experimentation, "function", episode)[0]]++;
        }

        var total = weights.Sum();
        foreach (var (name, weight) in candidates)
        {
            var p = weight / total;
            var expected = n * p;
            var tolerance = 4.5 * Math.Sqrt(n * p * (1 - p));
            counts[name].Should().BeInRange((int)Math.Floor(expected - tolerance), (int)Math.Ceiling(expected + tolerance), $"variant {name} has weight {weight}");
        }
    }

    [Fact]
    public void Order_FailedVariantLeavesTheSet_ThenFallbacksInOrder()
    {
        var experimentation = Weights("y,x", ("a", 1), ("b", 1), ("c", 1));

        foreach (var episode in Episodes(100))
        {
            var order = VariantSampler.Order(experimentation, "f", episode);
            order.Should().HaveCount(5);
            order.Take(3).Should().BeEquivalentTo(["a", "b", "c"], "every candidate is tried once before any fallback");
            order.Skip(3).Should().Equal("y", "x");
        }
    }

    [Fact]
    public void Order_ResamplingAfterAFailure_KeepsTheEpisodesPosition()
    {
        // Removing the first choice and sampling again with the same u is the same as sampling the rest alone.
        var all = Weights("", ("a", 2), ("b", 1), ("c", 1));
        foreach (var episode in Episodes(300))
        {
            var order = VariantSampler.Order(all, "f", episode);
            var rest = Weights("", [.. new[] { ("a", 2.0), ("b", 1.0), ("c", 1.0) }.Where(c => c.Item1 != order[0])]);
            VariantSampler.Order(rest, "f", episode)[0].Should().Be(order[1]);
        }
    }

    [Fact]
    public void Order_WeightZero_IsNeverSampled()
    {
        var experimentation = Weights("", ("a", 1), ("pin-only", 0));

        Episodes(2000).Should().OnlyContain(e => VariantSampler.Order(experimentation, "f", e).SequenceEqual(new[] { "a" }));
    }

    [Fact]
    public void Order_WeightZeroListedAsFallback_IsTriedLast()
    {
        var experimentation = Weights("z", ("a", 1), ("z", 0));

        VariantSampler.Order(experimentation, "f", Episodes(1).Single()).Should().Equal("a", "z");
    }

    [Fact]
    public void UuidV7Milliseconds_ReadsTheTimestamp()
    {
        var at = new DateTimeOffset(2026, 11, 21, 12, 0, 0, 123, TimeSpan.Zero);

        VariantSampler.UuidV7Milliseconds(Guid.CreateVersion7(at)).Should().Be(at.ToUnixTimeMilliseconds());
    }
}
