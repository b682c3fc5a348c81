using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// The per-request hot path, piece by piece, with allocations per operation
/// (<c>dotnet run -c Release --project bench/TensorZero.Proxy.Benchmarks -- micro</c>).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class HotPathBenchmarks
{
    private static readonly byte[] RequestBody = Encoding.UTF8.GetBytes(
        """{"model":"tensorzero::function_name::draft_email","messages":[{"role":"system","content":"You are a helpful assistant that writes short emails."},{"role":"user","content":"Write to Bob about the Tuesday meeting, and ask whether the budget numbers are final."}],"temperature":0.3,"max_tokens":300,"tensorzero::episode_id":"0192f1a0-7b2c-7d4e-8f00-0123456789ab","tensorzero::tags":{"team":"mail"}}""");

    private static readonly byte[] Completion = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-abc123","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hi Bob, are the budget numbers for Tuesday final? Thanks!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":41,"completion_tokens":14,"total_tokens":55},"system_fingerprint":"fp_1"}""");

    private static readonly byte[] Chunk = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-abc123","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":" budget"},"finish_reason":null}]}""");

    private static readonly byte[] SseStream = Encoding.UTF8.GetBytes(
        string.Concat(Enumerable.Repeat("data: " + Encoding.UTF8.GetString(Chunk) + "\n\n", 20)) + "data: [DONE]\n\n");

    private readonly ResponseRewriter _rewriter = new(Guid.CreateVersion7().ToString(), Guid.CreateVersion7().ToString(), "draft_email");
    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private readonly UnfilteredInferenceExtraHeaders _headers = new(
    [
        new ExtraHeaderEntry(ExtraEntryFilter.Always, "X-Trace", "t1"),
        new ExtraHeaderEntry(new ExtraEntryFilter(ExtraEntryScope.Variant, VariantName: "a"), "X-Only-A", "1"),
        new ExtraHeaderEntry(new ExtraEntryFilter(ExtraEntryScope.ModelProvider, ModelName: "gpt-4o", ProviderName: "azure"), "X-Azure", null),
        new ExtraHeaderEntry(new ExtraEntryFilter(ExtraEntryScope.ModelProvider, ModelName: "other"), "X-Other", "2"),
    ]);

    private readonly InferenceRecords _records = new(64 * 1024, TimeProvider.System);
    private readonly ArrayBufferWriter<byte> _chatRows = new(4096);
    private readonly ArrayBufferWriter<byte> _modelRows = new(4096);
    private InferenceRequest _request = null!;
    private GatewayFields _fields = null!;

    [GlobalSetup]
    public void Setup()
    {
        InferenceRequest.TryParse(RequestBody, out var request, out _);
        _request = request!;
        GatewayFields.TryRead(_request.TensorZeroFields, DateTimeOffset.UtcNow, out var fields, out _);
        _fields = fields!;
    }

    [Benchmark(Description = "record: ChatInference + ModelInference rows of one inference (response parse included)")]
    public int SerializeRecord()
    {
        var now = DateTimeOffset.UtcNow;
        var inference = new InferenceFeature(_request, _fields, UuidV7.Create(now), now, TimeProvider.System.GetTimestamp());
        var capture = new ResponseCapture(64 * 1024);
        capture.OnBody(Completion);
        var attempt = new AttemptRecord("gpt-4o-mini", "openai", AttemptOutcome.Ok, 200, TimeSpan.FromMilliseconds(420), null)
        {
            RawRequest = RequestBody,
            Response = capture,
            AppliedHeaders = [new("authorization", "[redacted]"), new("x-trace", "t1")],
        };
        inference.AddAttempt(attempt);
        inference.CommittedAttempt = attempt;
        _chatRows.ResetWrittenCount();
        _modelRows.ResetWrittenCount();
        var (chat, model) = _records.Write(inference, _chatRows, _modelRows);
        return chat + model;
    }

    [Benchmark(Description = "record: the raw response as a string column, the records' escaper")]
    public int EscapeRawResponse()
    {
        _output.ResetWrittenCount();
        InferenceRecords.EscapeString(Completion, _output);
        return _output.WrittenCount;
    }

    [Benchmark(Description = "record: the raw response as a string column, Utf8JsonWriter (relaxed encoder; before)")]
    public int WriteRawResponseWithJsonWriter()
    {
        _output.ResetWrittenCount();
        using var writer = new System.Text.Json.Utf8JsonWriter(_output, JsonOptions.Writer);
        writer.WriteStringValue(Completion);
        writer.Flush();
        return _output.WrittenCount;
    }

    [Benchmark(Description = "request: parse body (model, stream, tensorzero:: fields)")]
    public bool ParseRequest() => InferenceRequest.TryParse(RequestBody, out _, out _);

    [Benchmark(Description = "request: render upstream body (model splice, gateway fields stripped)")]
    public byte[] RenderBody() => _request.Template.Render("gpt-4o-mini-2024-07-18");

    [Benchmark(Description = "request: filter + merge extra headers for one attempt")]
    public int FilterHeaders() => _headers.Filter("a", "gpt-4o", "azure").MergeAfter([], []).Count;

    [Benchmark(Description = "response: rewrite non-streaming body (id, episode_id, model)")]
    public byte[] RewriteBody() => _rewriter.TryRewriteBody(Completion, out var rewritten) ? rewritten : [];

    [Benchmark(Description = "response: rewrite one SSE chunk")]
    public int RewriteChunk()
    {
        _output.ResetWrittenCount();
        _rewriter.RewriteEvent(Chunk, _output);
        return _output.WrittenCount;
    }

    [Benchmark(Description = "response: SSE stream of 20 chunks through SseResponseStream")]
    public async Task<int> SseStreamThrough()
    {
        var attempt = new ProxyAttemptFeature(new ProviderRequestPolicy(new Uri("http://x/"), null, null), default, null, TimeProvider.System)
        {
            Rewriter = _rewriter,
        };
        await using var sse = new SseResponseStream(new MemoryStream(SseStream, writable: false), attempt);
        await sse.PeekFirstEventAsync(CancellationToken.None);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var total = 0;
        int read;
        while ((read = await sse.ReadAsync(buffer)) > 0)
        {
            total += read;
        }
        ArrayPool<byte>.Shared.Return(buffer);
        return total;
    }
}
