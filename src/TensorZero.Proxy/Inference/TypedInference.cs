using System.Buffers;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Providers;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// The typed path's state for one request (DESIGN-NOTES "Two paths"): the request in TensorZero's terms, the function's
/// semantics, the model request the current variant built, and the result that reached the client. Attempts read it to
/// write the provider's body and to translate the provider's answer into the client's protocol.
/// </summary>
internal sealed class TypedInference
{
    public TypedInference(TypedInferenceRequest request, FunctionSemantics function, string? functionName, TimeProvider time)
    {
        Request = request;
        Function = function;
        FunctionName = functionName;
        Time = time;
    }

    /// <summary>The request as TensorZero reads it.</summary>
    public TypedInferenceRequest Request { get; }

    /// <summary>The function's schemas and tools (<see cref="FunctionSemantics.Default"/> for a model target).</summary>
    public FunctionSemantics Function { get; }

    /// <summary>The function called; null for a model target.</summary>
    public string? FunctionName { get; }

    public TimeProvider Time { get; }

    /// <summary>Whether the client called the native <c>/inference</c> endpoint.</summary>
    public bool Native => Request.Endpoint == InferenceEndpoint.Native;

    /// <summary>The endpoint the client called (it decides the response format).</summary>
    public InferenceEndpoint Endpoint => Request.Endpoint;

    /// <summary>What the variant being run asks its model; set before its attempts.</summary>
    public ModelRequest ModelRequest { get; set; } = new();

    /// <summary>The variant being run (the model's name for a model target).</summary>
    public string VariantName { get; set; } = "";

    /// <summary>The response's <c>model</c>: TensorZero's <c>tensorzero::function_name::F::variant_name::V</c> or <c>tensorzero::model_name::M</c>.</summary>
    /// <remarks>A plain name (this gateway's extension for clients that cannot send prefixes) is echoed as sent.</remarks>
    public string ModelField => Request.PlainName ?? OpenAICompatibleResponseWriter.ModelField(FunctionName, VariantName);

    /// <summary>The result that reached the client (for a stream: what its chunks added up to), for the record.</summary>
    public TypedInferenceResult? Result { get; set; }

    /// <summary>The model's output of the last answer built, before the function's output rules (what the cache keeps).</summary>
    public CachedModelOutput? LastOutput { get; private set; }

    /// <summary>Builds the result of one provider answer.</summary>
    public TypedInferenceResult BuildResult(
        InferenceFeature inference, AttemptTarget target, ImmutableContent output, Usage usage, FinishReason? finishReason, string raw, JsonElement? rawUsage)
    {
        LastOutput = new CachedModelOutput(output.Blocks, finishReason, raw, Time.GetUtcNow());
        var (content, json) = OutputProcessor.Process(ModelRequest.Kind, ModelRequest, output.Blocks);
        return new TypedInferenceResult
        {
            InferenceId = inference.InferenceId,
            EpisodeId = inference.EpisodeId,
            FunctionName = FunctionName ?? InferenceFeature.DefaultFunctionName,
            VariantName = VariantName,
            Kind = ModelRequest.Kind,
            Content = content,
            Json = json,
            Usage = usage,
            FinishReason = finishReason,
            RawResponse = raw,
            ModelName = target.Model.Name,
            ProviderName = target.Provider.Name,
            ProviderType = ProviderTypeName(target.Provider),
            ModelInferenceId = UuidV7.Create(Time.GetUtcNow()),
            RawUsage = rawUsage,
        };
    }

    /// <summary>The client's non-streaming body for a result.</summary>
    public byte[] WriteBody(TypedInferenceResult result) => Request.Endpoint switch
    {
        InferenceEndpoint.Native => NativeResponseWriter.Write(result, Request.IncludeRawResponse, Request.IncludeOriginalResponse, Request.IncludeRawUsage),
        InferenceEndpoint.OpenAIResponses => OpenAIResponsesWriter.Write(result, ModelField, Request.ResponsesEcho!, Time.GetUtcNow().ToUnixTimeSeconds()),
        InferenceEndpoint.AnthropicMessages => AnthropicMessagesWriter.Write(result, ModelField),
        _ => OpenAICompatibleResponseWriter.Write(result, ModelField, Request.IncludeRawResponse, Request.IncludeOriginalResponse, Request.IncludeRawUsage, Time),
    };

    /// <summary>A writer for the client's stream of one attempt.</summary>
    public TypedStreamWriter CreateStreamWriter(InferenceFeature inference, string providerType, bool cached = false)
    {
        var toolText = ModelRequest.Kind == FunctionKind.Chat && ModelRequest.JsonMode == JsonMode.Tool;
        var modelInferenceId = UuidV7.Create(Time.GetUtcNow());
        switch (Request.Endpoint)
        {
            case InferenceEndpoint.Native:
                var native = new NativeStreamWriter(inference.InferenceId, inference.EpisodeId, VariantName, ModelRequest.Kind, Request.IncludeRawUsage,
                    Request.IncludeOriginalResponse, Request.IncludeRawResponse)
                {
                    ToolCallsAsText = toolText, ModelInferenceId = modelInferenceId, ProviderType = providerType, Cached = cached,
                };
                return new TypedStreamWriter(native.WriteChunk, native.WriteDone, modelInferenceId,
                    (output, message) => NativeError.WriteStreamEvent(output, message, openAIFormat: false));
            case InferenceEndpoint.OpenAIResponses:
                var responses = new OpenAIResponsesStreamWriter(inference.InferenceId, inference.EpisodeId, ModelField, ModelRequest.Kind,
                    Request.ResponsesEcho!, Time.GetUtcNow().ToUnixTimeSeconds())
                {
                    ToolCallsAsText = toolText, Cached = cached,
                };
                return new TypedStreamWriter(responses.WriteChunk, responses.WriteDone, modelInferenceId, responses.WriteError, responses.WriteFailed);
            case InferenceEndpoint.AnthropicMessages:
                var anthropic = new AnthropicMessagesStreamWriter(inference.InferenceId, ModelField, ModelRequest.Kind)
                {
                    ToolCallsAsText = toolText, Cached = cached,
                };
                return new TypedStreamWriter(anthropic.WriteChunk, anthropic.WriteDone, modelInferenceId, anthropic.WriteError);
        }
        var openai = new OpenAICompatibleStreamWriter(inference.InferenceId, inference.EpisodeId, ModelField, ModelRequest.Kind,
            Request.IncludeUsageInStream || Request.IncludeRawUsage, Request.IncludeRawUsage, Request.IncludeOriginalResponse, Request.IncludeRawResponse,
            Time.GetUtcNow().ToUnixTimeSeconds())
        {
            ToolCallsAsText = toolText, ModelInferenceId = modelInferenceId, ProviderType = providerType, Cached = cached,
        };
        return new TypedStreamWriter(openai.WriteChunk, openai.WriteDone, modelInferenceId,
            (output, message) => NativeError.WriteStreamEvent(output, message, openAIFormat: true));
    }

    /// <summary>The streamed result, from the chunks the client was sent.</summary>
    public TypedInferenceResult StreamResult(
        InferenceFeature inference, AttemptTarget target, StreamAccumulator accumulator, IReadOnlyList<ProviderChunk> chunks, Guid modelInferenceId)
    {
        var result = BuildResult(inference, target, new ImmutableContent(accumulator.Blocks()), accumulator.Usage ?? Usage.Unknown,
            accumulator.FinishReason, accumulator.RawResponse, rawUsage: null);
        LastOutput = LastOutput! with { Chunks = [.. chunks] };
        return result with { ModelInferenceId = modelInferenceId };
    }

    /// <summary>Who answers an attempt, for the provider format's readers.</summary>
    public static ResponseContext ResponseContext(AttemptTarget target, TimeProvider time) =>
        new(ProviderTypeName(target.Provider), target.Model.Name, target.Provider.Name, time);

    /// <summary>The provider type's name as TensorZero writes it (<c>openai</c>, <c>dummy</c>, ...).</summary>
    public static string ProviderTypeName(RuntimeProvider provider) => Configuration.ProviderTypeInfo.Of(provider.Config.Type).TomlName;
}

/// <summary>A model's output blocks (a named wrapper so call sites read as what they pass).</summary>
internal readonly record struct ImmutableContent(System.Collections.Immutable.ImmutableArray<ContentBlock> Blocks);

/// <summary>One attempt's stream writer, whichever endpoint the client called.</summary>
/// <param name="writeChunk">Writes the client's events for one provider chunk.</param>
/// <param name="writeDone">Writes the stream's final events.</param>
/// <param name="modelInferenceId">The model inference that streams.</param>
/// <param name="writeError">Writes an error event in the middle of the stream (the stream may go on).</param>
/// <param name="writeFailed">Writes the events that end a stream cut short by an error; <paramref name="writeError"/> when null.</param>
internal sealed class TypedStreamWriter(
    Action<ProviderChunk, IBufferWriter<byte>> writeChunk, Action<IBufferWriter<byte>> writeDone, Guid modelInferenceId,
    Action<IBufferWriter<byte>, string> writeError, Action<IBufferWriter<byte>, string>? writeFailed = null)
{
    public Guid ModelInferenceId { get; } = modelInferenceId;

    public void WriteChunk(ProviderChunk chunk, IBufferWriter<byte> output) => writeChunk(chunk, output);

    public void WriteDone(IBufferWriter<byte> output) => writeDone(output);

    /// <summary>An error event in the middle of the stream, in the client's protocol.</summary>
    public void WriteError(IBufferWriter<byte> output, string message) => writeError(output, message);

    /// <summary>The last events of a stream cut short by an error, in the client's protocol.</summary>
    public void WriteFailed(IBufferWriter<byte> output, string message) => (writeFailed ?? writeError)(output, message);
}

/// <summary>
/// Translates a provider's whole answer (in its own format, <see cref="ProviderFormats"/>) into the client's body (typed path, non-streaming): the
/// provider's response read as TensorZero reads it, the function's output rules applied, then written in the client's
/// protocol. A body that is not a valid chat completion fails the attempt over.
/// </summary>
internal sealed class TypedBodyTranslator(TypedInference typed, InferenceFeature inference, AttemptTarget target) : IBodyTranslator
{
    public bool TryTranslate(ReadOnlySpan<byte> body, out byte[] translated, out string? error)
    {
        translated = [];
        var format = target.Provider.Format;
        if (!format.TryReadResponse(body, typed.ModelRequest, TypedInference.ResponseContext(target, typed.Time), out var response, out error))
        {
            return false;
        }
        var result = typed.BuildResult(inference, target, new ImmutableContent(response!.Output), response.Usage, response.FinishReason,
            response.RawResponse, rawUsage: response.RawUsage);
        typed.Result = result;
        translated = typed.WriteBody(result);
        return true;
    }
}

/// <summary>
/// Translates a provider's stream (in its own format, <see cref="ProviderFormats"/>), event by event, into the client's stream (typed path): chunks read
/// as TensorZero reads them, tool pieces turned to text where the function answers JSON, and the chunks accumulated so
/// the record holds the whole answer.
/// </summary>
internal sealed class TypedEventTranslator : IEventTranslator
{
    private readonly TypedInference _typed;
    private readonly InferenceFeature _inference;
    private readonly AttemptTarget _target;
    private readonly IProviderStreamReader _reader;
    private readonly TypedStreamWriter _writer;
    private readonly StreamAccumulator _accumulator = new();
    private readonly List<ProviderChunk> _chunks = [];

    public TypedEventTranslator(TypedInference typed, InferenceFeature inference, AttemptTarget target)
    {
        _typed = typed;
        _inference = inference;
        _target = target;
        var providerType = TypedInference.ProviderTypeName(target.Provider);
        _reader = target.Provider.Format.CreateStreamReader(typed.ModelRequest, TypedInference.ResponseContext(target, typed.Time));
        _writer = typed.CreateStreamWriter(inference, providerType);
    }

    public bool TryTranslate(ReadOnlySpan<byte> data, IBufferWriter<byte> output, out string? error)
    {
        if (!_reader.TryReadEvent(data, out var chunk, out error))
        {
            return false;
        }
        if (chunk is not null)
        {
            _chunks.Add(chunk);
            chunk = OutputProcessor.ProcessChunk(_typed.ModelRequest.Kind, _typed.ModelRequest, chunk);
            _accumulator.Add(chunk);
            _writer.WriteChunk(chunk, output);
        }
        return true;
    }

    /// <summary>The Responses and Anthropic ingresses end in their own protocol; the TensorZero endpoints as before.</summary>
    public void WriteTruncation(IBufferWriter<byte> output, string message, string code)
    {
        if (_typed.Endpoint is InferenceEndpoint.OpenAIResponses or InferenceEndpoint.AnthropicMessages)
        {
            _writer.WriteFailed(output, message);
        }
        else
        {
            IEventTranslator.WriteOpenAITruncation(output, message, code);
        }
    }

    public void Complete(IBufferWriter<byte> output)
    {
        _writer.WriteDone(output);
        _typed.Result = _typed.StreamResult(_inference, _target, _accumulator, _chunks, _writer.ModelInferenceId);
    }
}
