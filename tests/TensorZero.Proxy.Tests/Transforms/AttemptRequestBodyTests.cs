using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Tests.Transforms;

public sealed class AttemptRequestBodyTests
{
    private static readonly byte[] Bytes = Encoding.UTF8.GetBytes("""{"model":"good-upstream","messages":[{"role":"user","content":"hi"}]}""");

    private static ProxyAttemptFeature Attempt(ReadOnlyMemory<byte> body) =>
        new(new ProviderRequestPolicy(new Uri("http://provider.test/v1/chat/completions"), null, null), body, null, TimeProvider.System);

    private static async Task<byte[]> ReadAllAsync(Stream stream, int bufferSize)
    {
        var output = new MemoryStream();
        var buffer = new byte[bufferSize];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            output.Write(buffer, 0, read);
        }
        return output.ToArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(65536)]
    public async Task ReadAsync_AnyBufferSize_YieldsTheBytesInOrderThenZero(int bufferSize)
    {
        var stream = new AttemptRequestBody(Bytes);

        var read = await ReadAllAsync(stream, bufferSize);

        read.Should().Equal(Bytes);
        (await stream.ReadAsync(new byte[16])).Should().Be(0);
    }

    [Fact]
    public async Task ReadAsync_ZeroByteRead_ReturnsZeroWithoutConsuming()
    {
        // YARP's copier issues a zero-byte read before each real one.
        var stream = new AttemptRequestBody(Bytes);

        (await stream.ReadAsync(Memory<byte>.Empty)).Should().Be(0);

        (await ReadAllAsync(stream, 16)).Should().Equal(Bytes);
    }

    [Fact]
    public async Task CopyToAsync_AfterAPartialRead_WritesExactlyTheRest()
    {
        var stream = new AttemptRequestBody(Bytes);
        var head = new byte[10];
        stream.ReadExactly(head);
        var rest = new MemoryStream();

        await stream.CopyToAsync(rest);

        head.Concat(rest.ToArray()).Should().Equal(Bytes);
        stream.ReadByte().Should().Be(-1);
    }

    [Fact]
    public async Task ReadAsync_CanceledToken_Throws()
    {
        var stream = new AttemptRequestBody(Bytes);
        using var canceled = new CancellationTokenSource();
        canceled.Cancel();

        var read = async () => await stream.ReadAsync(new byte[8], canceled.Token);

        await read.Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task Attach_PutsTheAttemptsBodyOnTheRequest_AndSaysItHasOne()
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes("the client's body, already read by the middleware"));
        context.Features.Set<IHttpRequestBodyDetectionFeature>(new NoBody());
        var attempt = Attempt(Bytes);

        attempt.Attach(context);

        context.Features.Get<ProxyAttemptFeature>().Should().BeSameAs(attempt);
        context.Features.Get<IHttpRequestBodyDetectionFeature>()!.CanHaveBody.Should().BeTrue("the forwarder creates its request content only for a request that can have a body");
        (await ReadAllAsync(context.Request.Body, 4096)).Should().Equal(Bytes);
    }

    [Fact]
    public async Task Attach_NextAttempt_StartsAtItsOwnFirstByte_WhateverTheLastOneRead()
    {
        var context = new DefaultHttpContext();
        Attempt(Bytes).Attach(context);
        var firstBody = context.Request.Body;
        firstBody.ReadExactly(new byte[5]);
        var second = Encoding.UTF8.GetBytes("""{"model":"second-upstream"}""");

        Attempt(second).Attach(context);

        (await ReadAllAsync(context.Request.Body, 4096)).Should().Equal(second);
        (await ReadAllAsync(firstBody, 4096)).Should().Equal(Bytes[5..], "an earlier attempt's reader never sees the next attempt's bytes");
    }

    private sealed class NoBody : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => false;
    }
}
