using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Providers;

// Expected streams are TensorZero's dummy fixtures (crates/tensorzero-core/src/providers/dummy.rs, Apache-2.0).
public sealed class DummyModelsStreamTests
{
    private const string Wally = "Wally, the golden retriever, wagged his tail excitedly as he devoured a slice of cheese pizza.";

    private static readonly ModelRequest Hello = new() { Messages = [new ModelMessage(Role.User, [new TextBlock("Hello")])] };

    private static Task<List<(DummyStreamItem Item, TimeSpan At)>> Stream(string model, DummyModels? models = null, DummyContext? context = null, WatchedFakeTimeProvider? time = null)
    {
        time ??= new WatchedFakeTimeProvider();
        return StreamDriver.CollectAsync((models ?? new DummyModels()).InferStreamAsync(model, Hello, context ?? DummyContext.Default, time, CancellationToken.None), time);
    }

    private static List<ProviderChunk> Chunks(List<(DummyStreamItem Item, TimeSpan At)> items) =>
        [.. items.Select(i => i.Item.Chunk).OfType<ProviderChunk>()];

    private static string JoinedText(List<ProviderChunk> chunks) => string.Concat(chunks.SelectMany(c => c.Content).OfType<TextChunk>().Select(t => t.Text));

    [Fact]
    public async Task InferStreamAsync_Test_SixteenWallyChunksThenUsage_TenMillisecondsApart()
    {
        var items = await Stream("test");

        var chunks = Chunks(items);
        chunks.Should().HaveCount(17);
        chunks.Take(16).Should().AllSatisfy(c => c.Content.Should().ContainSingle().Which.Should().BeOfType<TextChunk>().Which.Id.Should().Be("0"));
        JoinedText(chunks).Should().Be(Wally);
        chunks[1].RawChunk.Should().Be(" the");
        var last = chunks[^1];
        last.Content.Should().BeEmpty();
        last.Usage.Should().Be(new Usage(10, 16));
        last.FinishReason.Should().Be(FinishReason.Stop);
        last.RawChunk.Should().Be("""{"usage":{"prompt_tokens":10,"completion_tokens":16,"total_tokens":26}}""");
        // 1 ms before the first chunk, 10 ms after each.
        items.Select(i => i.At.TotalMilliseconds).Should().Equal(Enumerable.Range(0, 17).Select(i => 1.0 + (10 * i)));
    }

    [Fact]
    public async Task InferStreamAsync_Tool_ArgumentChunksWithTheNameFirstThenToolCallFinish()
    {
        var chunks = Chunks(await Stream("tool"));

        chunks.Take(5).SelectMany(c => c.Content).Should().Equal(
            new ToolCallChunk("0", "get_temperature", "{\"location\""),
            new ToolCallChunk("0", null, ":\"Brooklyn\""),
            new ToolCallChunk("0", null, ",\"units\""),
            new ToolCallChunk("0", null, ":\"celsius"),
            new ToolCallChunk("0", null, "\"}"));
        chunks[^1].Usage.Should().Be(new Usage(10, 5));
        chunks[^1].FinishReason.Should().Be(FinishReason.ToolCall);
    }

    [Fact]
    public async Task InferStreamAsync_ToolSplitName_NameOverTheFirstTwoChunks()
    {
        Chunks(await Stream("tool_split_name")).Take(5).SelectMany(c => c.Content).OfType<ToolCallChunk>().Select(c => c.RawName)
            .Should().Equal("get_temp", "erature", null, null, null);
    }

    [Fact]
    public async Task InferStreamAsync_GoodTool_SentimentArguments()
    {
        var chunks = Chunks(await Stream("good_tool"));

        string.Concat(chunks.SelectMany(c => c.Content).OfType<ToolCallChunk>().Select(c => c.RawArguments))
            .Should().Be("""{"sentiment":"positive","confidence":0.95}""");
        chunks[^1].FinishReason.Should().Be(FinishReason.ToolCall);
    }

    [Fact]
    public async Task InferStreamAsync_Reasoner_ThoughtsThenTextThenUsage_FirstAtOnce()
    {
        var items = await Stream("reasoner");

        var chunks = Chunks(items);
        chunks.Should().HaveCount(19);
        chunks.Take(2).SelectMany(c => c.Content).Should().Equal(new ThoughtChunk("0", "hmmm"), new ThoughtChunk("0", "hmmm"));
        JoinedText(chunks).Should().Be(Wally);
        chunks.Take(18).Should().AllSatisfy(c => c.RawChunk.Should().BeEmpty());
        chunks[^1].Usage.Should().Be(new Usage(10, 18));
        chunks[^1].RawChunk.Should().Be("""{"usage":{"prompt_tokens":10,"completion_tokens":18,"total_tokens":28}}""");
        items.Select(i => i.At.TotalMilliseconds).Should().Equal(Enumerable.Range(0, 19).Select(i => 1.0 + (10 * i)));
    }

    [Theory]
    [InlineData("json", 0)]
    [InlineData("json_reasoner", 2)]
    public async Task InferStreamAsync_Json_JohnChunks(string model, int thoughts)
    {
        var chunks = Chunks(await Stream(model));

        chunks.SelectMany(c => c.Content).OfType<ThoughtChunk>().Should().HaveCount(thoughts);
        JoinedText(chunks).Should().Be("""{"name":"John","age":30}""");
        chunks[^1].Usage.Should().Be(new Usage(10, 5 + thoughts));
        chunks[^1].FinishReason.Should().Be(FinishReason.Stop);
    }

    [Fact]
    public async Task InferStreamAsync_NonStreamingOnlyModels_StreamWally()
    {
        // TensorZero's dummy streams the same text for every other name, echo models included.
        JoinedText(Chunks(await Stream("json_goodbye"))).Should().Be(Wally);
        JoinedText(Chunks(await Stream("echo_request_messages"))).Should().Be(Wally);
    }

    [Theory]
    [InlineData("input_five_output_six", 5, 6)]
    [InlineData("input_tokens_zero", 0, 16)]
    [InlineData("output_tokens_zero", 10, 0)]
    public async Task InferStreamAsync_UsageModels_FinalUsageAndRawUsage(string model, long input, long output)
    {
        var last = Chunks(await Stream(model))[^1];

        last.Usage.Should().Be(new Usage(input, output));
        last.RawChunk.Should().Be($$$"""{"usage":{"prompt_tokens":{{{input}}},"completion_tokens":{{{output}}},"total_tokens":{{{input + output}}}}}""");
    }

    [Theory]
    [InlineData("err_in_stream", "Dummy error in stream", null)]
    [InlineData("err_in_stream_with_raw_response", "Dummy error in stream with raw response", """{"error": "dummy client raw response"}""")]
    public async Task InferStreamAsync_ErrInStream_AnErrorInPlaceOfTheFourthChunkThenTheRest(string model, string message, string? rawResponse)
    {
        var items = await Stream(model);

        items.Should().HaveCount(17);
        items.Take(3).Should().AllSatisfy(i => i.Item.Chunk.Should().NotBeNull());
        var error = items[3].Item.Error!;
        error.Message.Should().Be(message);
        error.Kind.Should().Be(DummyErrorKind.Provider);
        error.RawRequest.Should().Be("raw request");
        error.RawResponse.Should().Be(rawResponse);
        var chunks = Chunks(items);
        JoinedText(chunks).Should().Be(Wally.Replace(" retriever,", "", StringComparison.Ordinal));
        chunks[^1].Usage.Should().Be(new Usage(10, 16));
    }

    [Theory]
    [InlineData("fatal_stream_error", "Dummy fatal error", null)]
    [InlineData("fatal_stream_error_with_raw_response", "Dummy fatal error with raw response", """{"error": "dummy fatal raw response"}""")]
    public async Task InferStreamAsync_FatalStreamError_TwoChunksThenTheLastItemIsTheError(string model, string message, string? rawResponse)
    {
        var items = await Stream(model);

        items.Should().HaveCount(3);
        JoinedText(Chunks(items)).Should().Be("Wally, the");
        var error = items[2].Item.Error!;
        error.Message.Should().Be(message);
        error.Kind.Should().Be(DummyErrorKind.FatalStream);
        error.RawResponse.Should().Be(rawResponse);
    }

    [Fact]
    public async Task InferStreamAsync_Slow_FiveSecondsBeforeTheFirstChunk()
    {
        var items = await Stream("slow");

        items[0].At.Should().Be(TimeSpan.FromMilliseconds(5001));
        items[1].At.Should().Be(TimeSpan.FromMilliseconds(5011));
    }

    [Fact]
    public async Task InferStreamAsync_SlowSecondChunk_TwoSecondsBeforeTheSecondChunk()
    {
        var items = await Stream("slow_second_chunk");

        items[0].At.Should().Be(TimeSpan.FromMilliseconds(1));
        items[1].At.Should().Be(TimeSpan.FromMilliseconds(2011));
        items[2].At.Should().Be(TimeSpan.FromMilliseconds(2021));
    }

    [Theory]
    [InlineData("error", "Error sending request to Dummy provider for model 'error'.")]
    [InlineData("error_with_raw_response", "Error from Dummy provider with raw response")]
    public async Task InferStreamAsync_ErrorModels_ThrowBeforeTheFirstChunk(string model, string message)
    {
        var act = () => Stream(model);

        (await act.Should().ThrowAsync<DummyProviderException>()).Which.Message.Should().Be(message);
    }

    [Fact]
    public async Task InferStreamAsync_Flaky_SharesTheCounterWithNonStreamingCalls()
    {
        var models = new DummyModels();
        models.Infer("flaky_stream", Hello, DummyContext.Default);

        var act = () => Stream("flaky_stream", models);

        (await act.Should().ThrowAsync<DummyProviderException>()).Which.Message.Should().Be("Flaky model 'flaky_stream' failed on call number 2");
        (await Stream("flaky_stream", models)).Should().HaveCount(17);
    }

    [Fact]
    public async Task InferStreamAsync_TestKeyWithABadKey_StreamsAnyway()
    {
        // TensorZero's streaming dummy checks no credential.
        (await Stream("test_key", context: DummyContext.Default with { DynamicKeyName = "K", ApiKey = "bad" })).Should().HaveCount(17);
    }

    [Fact]
    public async Task InferStreamAsync_Cancelled_StopsWaiting()
    {
        var time = new WatchedFakeTimeProvider();
        using var cts = new CancellationTokenSource();
        var enumerator = new DummyModels().InferStreamAsync("slow", Hello, DummyContext.Default, time, cts.Token).GetAsyncEnumerator();

        var first = enumerator.MoveNextAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(1));
        await cts.CancelAsync();

        await FluentActions.Awaiting(() => first).Should().ThrowAsync<OperationCanceledException>();
        await enumerator.DisposeAsync();
    }
}
