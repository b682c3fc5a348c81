using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// The in-process <c>dummy</c> provider: a test provider that calls no LLM and reproduces the fixed outputs of
/// TensorZero's own dummy provider (crates/tensorzero-core/src/providers/dummy.rs), so that TensorZero's client
/// tests and example configurations run against this gateway offline. What a model answers depends only on its
/// <c>model_name</c>: <c>test</c> and any unlisted name answer the "Megumin" text, <c>tool</c> a weather tool call,
/// <c>json</c> <c>{"answer":"Hello"}</c>, <c>error*</c> fails, <c>flaky_*</c> fails on every second call, and so
/// on. Its raw request is the literal <see cref="RawRequest"/>, its raw responses TensorZero's fixture strings.
/// </summary>
/// <remarks>
/// One instance per gateway: the <c>flaky_*</c> counters live in it (TensorZero keeps them per process). Delays
/// (<c>slow</c>, the 10 ms between stream chunks) use the given <see cref="TimeProvider"/>.
/// </remarks>
internal sealed partial class DummyModels
{
    /// <summary>The raw request every dummy inference reports.</summary>
    public const string RawRequest = "raw request";

    /// <summary>The default answer.</summary>
    public const string MeguminText = "Megumin gleefully chanted her spell, unleashing a thunderous explosion that lit up the sky and left a massive crater in its wake.";

    /// <summary>The <c>alternate</c> model's answer.</summary>
    /// <summary>What a default dummy stream's text chunks add up to.</summary>
    public static string WallyText => string.Concat(WallyChunks);

    public const string AlternateText = "Megumin chanted her spell, but instead of an explosion, a gentle rain began to fall.";

    /// <summary>The default raw response: TensorZero's fixture, a legacy text completion.</summary>
    public const string MeguminRawResponse = """
        {
          "id": "id",
          "object": "text.completion",
          "created": 1618870400,
          "model": "text-davinci-002",
          "choices": [
            {
              "text": "Megumin gleefully chanted her spell, unleashing a thunderous explosion that lit up the sky and left a massive crater in its wake.",
              "index": 0,
              "logprobs": null,
              "finish_reason": null
            }
          ],
          "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 10,
            "total_tokens": 20
          }
        }
        """;

    private const string ToolArguments = """{"location":"Brooklyn","units":"celsius"}""";

    // The units are capitalised: the tool's enum rejects them, so the call fails validation.
    private const string BadToolArguments = """{"location":"Brooklyn","units":"Celsius"}""";

    private const string GoodToolArguments = """{"sentiment":"positive","confidence":0.95}""";

    private const string JsonHello = """{"answer":"Hello"}""";

    private const string JsonGoodbye = """{"answer":"Goodbye"}""";

    private const string JsonCot = """{"thinking":"hmmm", "response": {"answer":"tokyo!"}}""";

    private static readonly TimeSpan StreamThrottle = TimeSpan.FromMilliseconds(10);

    private readonly ConcurrentDictionary<string, int> _flakyCalls = new(StringComparer.Ordinal);

    /// <summary>
    /// A non-streaming inference: waits as TensorZero's dummy does (5 s for <c>slow</c>, 1 ms for every model, so no
    /// inference takes 0 ms), then answers as <see cref="Infer"/>.
    /// </summary>
    /// <exception cref="DummyProviderException">The model fails (see <see cref="Infer"/>).</exception>
    public async Task<ProviderResponse> InferAsync(string modelName, ModelRequest request, DummyContext context, TimeProvider time, CancellationToken cancellationToken)
    {
        if (modelName == "slow")
        {
            await Task.Delay(TimeSpan.FromSeconds(5), time, cancellationToken).ConfigureAwait(false);
        }
        await Task.Delay(TimeSpan.FromMilliseconds(1), time, cancellationToken).ConfigureAwait(false);
        return Infer(modelName, request, context);
    }

    /// <summary>
    /// The answer of <paramref name="modelName"/> to <paramref name="request"/>, without the delays of
    /// <see cref="InferAsync"/>. Usage is 10 input tokens and one output token per content block (except the
    /// <c>input_tokens_zero</c>-style models); the finish reason is a tool call for names containing "tool".
    /// </summary>
    /// <exception cref="DummyProviderException">
    /// <c>flaky_*</c> on even calls, <c>error*</c>, <c>llm_judge::error</c>, <c>multiple-text-blocks</c> without two text
    /// blocks first, <c>require_pdf</c> without a PDF, <c>test_key</c> with a key other than <c>good_key</c>, a missing
    /// dynamic key, and <c>echo_injected_data</c> when the extra body cannot be applied.
    /// </exception>
    public ProviderResponse Infer(string modelName, ModelRequest request, DummyContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        CheckFlaky(modelName, rateLimitVariant: true);
        CheckErrorModels(modelName);
        if (modelName == "multiple-text-blocks"
            && (request.Messages.Length == 0 || request.Messages[0].Content.Count(block => block is TextBlock) != 2))
        {
            throw Failure("First message must have exactly two text blocks");
        }
        if (context.DynamicKeyName is { } keyName && context.ApiKey is null)
        {
            throw new DummyProviderException($"Dynamic api key `{keyName}` is missing", null) { Kind = DummyErrorKind.ApiKeyMissing };
        }
        if (modelName == "test_key" && context.ApiKey is { } key && key != "good_key")
        {
            throw Failure("Invalid API key for Dummy provider");
        }

        var output = Output(modelName, request, context);
        var usage = UsageOf(modelName, output.Length);
        var finishReason = modelName.Contains("tool", StringComparison.Ordinal) ? FinishReason.ToolCall : FinishReason.Stop;
        return new ProviderResponse(output, usage, finishReason, RawResponseOf(modelName));
    }

    private static ImmutableArray<ContentBlock> Output(string modelName, ModelRequest request, DummyContext context) => modelName switch
    {
        "null" => [],
        "tool" => [new ToolCallBlock("0", "get_temperature", ToolArguments)],
        "good_tool" => [new ToolCallBlock("0", "output_schema_tool", GoodToolArguments)],
        "bad_tool" => [new ToolCallBlock("0", "get_temperature", BadToolArguments)],
        "invalid_tool_arguments" => [new ToolCallBlock("0", "get_temperature", "Not valid 'JSON'")],
        "reasoner" => [new ThoughtBlock("hmmm"), new TextBlock(MeguminText)],
        "reasoner_with_signature" => [new ThoughtBlock("hmmm") { Signature = "my_signature" }, new TextBlock(MeguminText)],
        "json_reasoner" => [new ThoughtBlock("hmmm"), new TextBlock(JsonHello)],
        "json" => [new TextBlock(JsonHello)],
        "json_goodbye" => [new TextBlock(JsonGoodbye)],
        "json_cot" => [new TextBlock(JsonCot)],
        "json_diff_schema" => [new TextBlock("""{"response":"Hello"}""")],
        "json_beatles_1" => [new TextBlock("""{"names":["John", "George"]}""")],
        "json_beatles_2" => [new TextBlock("""{"names":["Paul", "Ringo"]}""")],
        "best_of_n_0" or "flaky_best_of_n_judge" => [new TextBlock("""{"thinking": "hmmm", "answer_choice": 0}""")],
        "best_of_n_1" => [new TextBlock("""{"thinking": "hmmm", "answer_choice": 1}""")],
        "best_of_n_big" => [new TextBlock("""{"thinking": "hmmm", "answer_choice": 100}""")],
        "random_answer" => [new TextBlock($$"""{"answer":"{{Guid.CreateVersion7()}}"}""")],
        "alternate" => [new TextBlock(AlternateText)],
        "echo_extra_info" => [new TextBlock(EchoExtraInfo(context))],
        "echo_injected_data" => [new TextBlock(EchoInjectedData(context))],
        "echo_request_messages" => [new TextBlock(EchoRequestMessages(request, context))],
        "extract_images" => [new TextBlock(FilesJson(Files(request), context))],
        "require_pdf" => [new TextBlock(RequirePdf(request, context))],
        "llm_judge::true" => [new TextBlock("""{"score": true}""")],
        "llm_judge::false" => [new TextBlock("""{"score": false}""")],
        "llm_judge::zero" => [new TextBlock("""{"score": 0}""")],
        "llm_judge::one" => [new TextBlock("""{"score": 1}""")],
        "echo" => [new TextBlock(LastUserText(request))],
        "empty" => [new TextBlock("")],
        "llm_judge::error" => throw Failure("Dummy error in inference"),
        _ => [new TextBlock(MeguminText)],
    };

    private static string RawResponseOf(string modelName) => modelName switch
    {
        "tool" => """{"location":"Brooklyn","units":"celsius","usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}""",
        "good_tool" => GoodToolArguments,
        "json" => """{"answer":"Hello","usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}""",
        "json_goodbye" => JsonGoodbye,
        "json_cot" => JsonCot,
        "bad_tool" => BadToolArguments,
        "best_of_n_0" => """{"thinking": "hmmm", "answer_choice": 0}""",
        "best_of_n_1" => """{"thinking": "hmmm", "answer_choice": 1}""",
        "best_of_n_big" => """{"thinking": "hmmm", "answer_choice": 100}""",
        _ => MeguminRawResponse,
    };

    /// <summary>Usage for <paramref name="outputTokens"/> output tokens; four model names fix the counts instead.</summary>
    private static Usage UsageOf(string modelName, long outputTokens) => modelName switch
    {
        "input_tokens_zero" => new Usage(0, outputTokens),
        "output_tokens_zero" => new Usage(10, 0),
        "input_tokens_output_tokens_zero" => new Usage(0, 0),
        "input_five_output_six" => new Usage(5, 6),
        _ => new Usage(10, outputTokens),
    };

    /// <summary>The text of the first text block of the last user message, or "".</summary>
    private static string LastUserText(ModelRequest request)
    {
        for (var i = request.Messages.Length - 1; i >= 0; i--)
        {
            if (request.Messages[i].Role == Role.User)
            {
                return request.Messages[i].Content.OfType<TextBlock>().FirstOrDefault()?.Text ?? "";
            }
        }
        return "";
    }

    private static List<FileData> Files(ModelRequest request) =>
        [.. request.Messages.SelectMany(m => m.Content).OfType<FileBlock>().Select(f => f.File)];

    private static string RequirePdf(ModelRequest request, DummyContext context)
    {
        var files = Files(request);
        // A file's type is the one it was given with (TensorZero would also learn it by fetching a URL).
        if (!files.Any(f => string.Equals(f.MimeType, "application/pdf", StringComparison.OrdinalIgnoreCase)))
        {
            throw Failure("PDF must be provided for require_pdf model");
        }
        return FilesJson(files, context);
    }

    /// <summary>Every second call of a <c>flaky_*</c> model fails; each model name counts its own calls.</summary>
    private void CheckFlaky(string modelName, bool rateLimitVariant)
    {
        if (!modelName.StartsWith("flaky_", StringComparison.Ordinal))
        {
            return;
        }
        var call = _flakyCalls.AddOrUpdate(modelName, 1, (_, calls) => calls + 1);
        if (call % 2 != 0)
        {
            return;
        }
        if (rateLimitVariant && modelName.Contains("rate_limit", StringComparison.Ordinal))
        {
            throw new DummyProviderException(
                "TensorZero rate limit exceeded for `token` resource.\nScope: tag_key=\"test\", tag_value=\"tensorzero::total\"\nRequested: 100\nAvailable: 0",
                null)
            {
                Kind = DummyErrorKind.RateLimitExceeded,
            };
        }
        throw new DummyProviderException($"Flaky model '{modelName}' failed on call number {call}", null)
        {
            RawRequest = RawRequest,
            RawResponse = modelName.Contains("raw_response", StringComparison.Ordinal) ? "dummy flaky error raw response" : null,
        };
    }

    private static void CheckErrorModels(string modelName)
    {
        if (modelName == "error_with_raw_response")
        {
            throw new DummyProviderException("Error from Dummy provider with raw response", 500)
            {
                RawRequest = "dummy error raw request",
                RawResponse = "dummy error raw response",
            };
        }
        if (modelName.StartsWith("error", StringComparison.Ordinal))
        {
            throw Failure($"Error sending request to Dummy provider for model '{modelName}'.");
        }
    }

    private static DummyProviderException Failure(string message) => new(message, null) { RawRequest = RawRequest };

    // -----------------------------------------------------------------------------------------------------------------
    // Streaming
    // -----------------------------------------------------------------------------------------------------------------

    private static readonly string[] WallyChunks =
    [
        "Wally,", " the", " golden", " retriever,", " wagged", " his", " tail", " excitedly", " as", " he", " devoured", " a", " slice", " of", " cheese", " pizza.",
    ];

    private static readonly string[] ToolChunks = ["{\"location\"", ":\"Brooklyn\"", ",\"units\"", ":\"celsius", "\"}"];

    private static readonly string[] GoodToolChunks = ["{\"sentiment\"", ":\"positive\"", ",\"confidence\"", ":0.95", "}"];

    private static readonly string[] JsonChunks = ["{\"name\"", ":\"John\"", ",\"age\"", ":30", "}"];

    private static readonly string[] ThinkingChunks = ["hmmm", "hmmm"];

    /// <summary>
    /// A streaming inference, as TensorZero's dummy streams it: 16 text chunks ("Wally, the golden retriever...")
    /// for most models, 5 tool call argument chunks for <c>tool</c>/<c>tool_split_name</c>/<c>good_tool</c>,
    /// thought then text chunks for <c>reasoner</c>/<c>json_reasoner</c>, JSON chunks for <c>json</c>; then a last chunk
    /// with usage (one output token per content chunk) and the finish reason; 10 ms between chunks.
    /// </summary>
    /// <remarks>
    /// Failures before the first chunk (<c>flaky_*</c>, <c>error*</c>) are thrown by the first
    /// <c>MoveNextAsync</c>. Failures in the stream are items: <c>err_in_stream</c> carries an error in place of its
    /// fourth chunk and goes on; <c>fatal_stream_error</c> ends with an error in place of its third. Unlike
    /// <see cref="Infer"/>, the stream checks no credential and fails no <c>test_key</c> (as TensorZero's).
    /// </remarks>
    public async IAsyncEnumerable<DummyStreamItem> InferStreamAsync(
        string modelName, ModelRequest request, DummyContext context, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        if (modelName == "slow")
        {
            await Task.Delay(TimeSpan.FromSeconds(5), time, cancellationToken).ConfigureAwait(false);
        }
        await Task.Delay(TimeSpan.FromMilliseconds(1), time, cancellationToken).ConfigureAwait(false);
        CheckFlaky(modelName, rateLimitVariant: false);

        var reasoning = modelName switch
        {
            "reasoner" => (Thinking: ThinkingChunks, Text: WallyChunks),
            "json_reasoner" => (Thinking: ThinkingChunks, Text: JsonChunks),
            "json" => (Thinking: [], Text: JsonChunks),
            _ => ((string[] Thinking, string[] Text)?)null,
        };
        if (reasoning is { } parts)
        {
            await foreach (var item in ReasoningStream(modelName, parts.Thinking, parts.Text, time, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
            yield break;
        }

        CheckErrorModels(modelName);
        var (chunks, isToolCall) = modelName switch
        {
            "tool" or "tool_split_name" => (ToolChunks, true),
            "good_tool" => (GoodToolChunks, true),
            _ => (WallyChunks, false),
        };
        for (var i = 0; i < chunks.Length; i++)
        {
            if (modelName == "slow_second_chunk" && i == 1)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), time, cancellationToken).ConfigureAwait(false);
            }
            if (StreamError(modelName, i) is { } error)
            {
                yield return DummyStreamItem.Failed(error);
                if (error.Kind == DummyErrorKind.FatalStream)
                {
                    // TensorZero stops reading a stream at a fatal error.
                    yield break;
                }
                await Task.Delay(StreamThrottle, time, cancellationToken).ConfigureAwait(false);
                continue;
            }
            ChunkBlock block = isToolCall
                ? new ToolCallChunk("0", ToolName(modelName, i), chunks[i])
                : new TextChunk("0", chunks[i]);
            yield return DummyStreamItem.Of(new ProviderChunk([block], null, null, chunks[i]));
            await Task.Delay(StreamThrottle, time, cancellationToken).ConfigureAwait(false);
        }

        var usage = UsageOf(modelName, chunks.Length);
        var input = usage.InputTokens ?? 0;
        var output = usage.OutputTokens ?? 0;
        var raw = $$$"""{"usage":{"prompt_tokens":{{{input}}},"completion_tokens":{{{output}}},"total_tokens":{{{input + output}}}}}""";
        yield return DummyStreamItem.Of(new ProviderChunk([], usage, isToolCall ? FinishReason.ToolCall : FinishReason.Stop, raw));
        await Task.Delay(StreamThrottle, time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The tool name comes in the first chunk only; <c>tool_split_name</c> splits it over the first two.</summary>
    private static string? ToolName(string modelName, int index) => (modelName, index) switch
    {
        ("tool_split_name", 0) => "get_temp",
        ("tool_split_name", 1) => "erature",
        (_, 0) when modelName != "tool_split_name" => "get_temperature",
        _ => null,
    };

    private static DummyProviderException? StreamError(string modelName, int index) => (modelName, index) switch
    {
        ("fatal_stream_error", 2) => new DummyProviderException("Dummy fatal error", null) { Kind = DummyErrorKind.FatalStream, RawRequest = RawRequest },
        ("err_in_stream", 3) => Failure("Dummy error in stream"),
        ("fatal_stream_error_with_raw_response", 2) => new DummyProviderException("Dummy fatal error with raw response", null)
        {
            Kind = DummyErrorKind.FatalStream,
            RawRequest = RawRequest,
            RawResponse = """{"error": "dummy fatal raw response"}""",
        },
        ("err_in_stream_with_raw_response", 3) => new DummyProviderException("Dummy error in stream with raw response", null)
        {
            RawRequest = RawRequest,
            RawResponse = """{"error": "dummy client raw response"}""",
        },
        _ => null,
    };

    /// <summary>Thought chunks, then text chunks, then usage: at least 10 ms apart, the first at once.</summary>
    private static async IAsyncEnumerable<DummyStreamItem> ReasoningStream(
        string modelName, string[] thinking, string[] text, TimeProvider time, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var items = new List<ProviderChunk>(thinking.Length + text.Length + 1);
        items.AddRange(thinking.Select(t => new ProviderChunk([new ThoughtChunk("0", t)], null, null, "")));
        items.AddRange(text.Select(t => new ProviderChunk([new TextChunk("0", t)], null, null, "")));
        var total = thinking.Length + text.Length;
        // TensorZero writes 10 input tokens into this raw usage whatever the usage says.
        var raw = $$$"""{"usage":{"prompt_tokens":10,"completion_tokens":{{{total}}},"total_tokens":{{{10 + total}}}}}""";
        items.Add(new ProviderChunk([], UsageOf(modelName, total), FinishReason.Stop, raw));
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                await Task.Delay(StreamThrottle, time, cancellationToken).ConfigureAwait(false);
            }
            yield return DummyStreamItem.Of(items[i]);
        }
    }
}
