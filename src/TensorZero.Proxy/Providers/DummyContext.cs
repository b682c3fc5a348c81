using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Providers;

/// <summary>
/// What the <c>dummy</c> provider sees of an attempt besides its request: the credential it was given, the extra
/// body and headers as TensorZero reports them to its <c>echo_*</c> models, and the object storage kind that names
/// file storage paths. <see cref="Default"/> is an attempt with none of them.
/// </summary>
internal sealed record DummyContext
{
    /// <summary>No credential, no extra body or headers, storage disabled.</summary>
    public static DummyContext Default { get; } = new();

    /// <summary>
    /// The key name of a <c>dynamic::NAME</c> <c>api_key_location</c>; null when the provider has none (the dummy
    /// takes no other kind). With a name and no <see cref="ApiKey"/>, every non-streaming inference fails as
    /// TensorZero's does: <c>Dynamic api key `NAME` is missing</c>.
    /// </summary>
    public string? DynamicKeyName { get; init; }

    /// <summary>The credential the request gave for <see cref="DynamicKeyName"/>; the <c>test_key</c> model accepts only <c>good_key</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The variant's configured <c>extra_body</c> as a JSON array (<c>[{"pointer", "value"}]</c>); null when
    /// it has none (the key is then left out of <c>echo_extra_info</c>'s answer, as TensorZero leaves it out).</summary>
    public JsonElement? VariantExtraBody { get; init; }

    /// <summary>The request's <c>tensorzero::extra_body</c> entries that apply to the variant, as the JSON array the
    /// client sent them in; null is an empty array.</summary>
    public JsonElement? InferenceExtraBody { get; init; }

    /// <summary>The variant's configured <c>extra_headers</c> as a JSON array; null is reported as <c>null</c>.</summary>
    public JsonElement? VariantExtraHeaders { get; init; }

    /// <summary>The request's <c>tensorzero::extra_headers</c> entries that apply to the variant; null is an empty array.</summary>
    public JsonElement? InferenceExtraHeaders { get; init; }

    /// <summary>The attempt's extra body operations in the order they apply (variant, provider, request), for
    /// <c>echo_injected_data</c>: what the dummy would have put in a request body.</summary>
    public IReadOnlyList<ExtraBodyEntry> BodyOperations { get; init; } = [];

    /// <summary>The attempt's extra header operations in the order they apply, for <c>echo_injected_data</c>.</summary>
    public IReadOnlyList<ExtraHeaderEntry> HeaderOperations { get; init; } = [];

    /// <summary>
    /// The gateway's object storage kind as TensorZero serialises it (<c>{"type": "disabled"}</c>,
    /// <c>{"type": "filesystem", "path": ...}</c>, ...), which the <c>require_pdf</c> and <c>extract_images</c>
    /// models show in each file's <c>storage_path</c>; null is <c>{"type": "disabled"}</c>.
    /// </summary>
    public JsonElement? StorageKind { get; init; }
}

/// <summary>How a dummy failure would reach the client, in TensorZero's terms.</summary>
internal enum DummyErrorKind
{
    /// <summary>The provider failed (TensorZero's <c>InferenceClient</c> error): the next provider is tried.</summary>
    Provider,

    /// <summary>A stream error after which nothing more comes (TensorZero's <c>FatalStreamError</c>).</summary>
    FatalStream,

    /// <summary>The provider's dynamic credential is missing from the request (TensorZero answers 400).</summary>
    ApiKeyMissing,

    /// <summary>A TensorZero rate limit (TensorZero answers 429); only the <c>flaky_*rate_limit*</c> models.</summary>
    RateLimitExceeded,
}

/// <summary>A failure of the <c>dummy</c> provider, with the raw request and response TensorZero reports for it.</summary>
internal sealed class DummyProviderException : Exception
{
    /// <summary>Creates the failure.</summary>
    /// <param name="message">TensorZero's message for it.</param>
    /// <param name="statusCode">The HTTP status the "provider" answered, when TensorZero gives one.</param>
    public DummyProviderException(string message, int? statusCode)
        : base(message)
    {
        StatusCode = statusCode;
    }

    /// <summary>The HTTP status the "provider" answered, when TensorZero gives one.</summary>
    public int? StatusCode { get; }

    public DummyErrorKind Kind { get; init; } = DummyErrorKind.Provider;

    public string? RawRequest { get; init; }

    public string? RawResponse { get; init; }
}

/// <summary>
/// One item of a dummy stream: a chunk, or an error in the stream. TensorZero's streams carry errors as items:
/// after a <see cref="DummyErrorKind.Provider"/> error the stream goes on (the client gets an error event, then
/// more chunks); a <see cref="DummyErrorKind.FatalStream"/> error is the last item.
/// </summary>
internal sealed record DummyStreamItem(ProviderChunk? Chunk, DummyProviderException? Error)
{
    public static DummyStreamItem Of(ProviderChunk chunk) => new(chunk, null);

    public static DummyStreamItem Failed(DummyProviderException error) => new(null, error);
}
