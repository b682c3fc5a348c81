using System.Buffers;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Inference;

/// <summary>
/// Reading of the content shapes both typed endpoints share: thought and unknown blocks, tool calls, files given as
/// <c>data:</c> URLs or base64 audio, and the compact JSON text TensorZero makes of a value (serde_json's
/// <c>to_string</c>).
/// </summary>
internal static class ContentBlockReader
{
    /// <summary>TensorZero's example in its data-URL errors.</summary>
    private const string DataUrlExample = "`data:image/png;base64,SGVsbG8sIFdvcmxkIQ==`";

    private static readonly string[] DetailValues = ["low", "high", "auto"];

    /// <summary>A thought block's fields (TensorZero's <c>Thought</c>; unknown members are ignored, as serde does).</summary>
    public static ThoughtBlock ReadThought(JsonMembers members)
    {
        var providerType = members.OptionalString("provider_type") ?? members.OptionalString("_internal_provider_type");
        JsonElement? summary = null;
        if (members.Optional("summary") is { } summaryValue)
        {
            var path = members.PathOf("summary");
            if (summaryValue.ValueKind != JsonValueKind.Array)
            {
                throw JsonMembers.Invalid(path, summaryValue, "a sequence");
            }
            var index = 0;
            foreach (var block in summaryValue.EnumerateArray())
            {
                var blockMembers = JsonMembers.Of(block, JsonMembers.Index(path, index++));
                var type = blockMembers.RequiredString("type");
                if (type != "summary_text")
                {
                    throw JsonMembers.UnknownVariant(blockMembers.Path, type, "summary_text");
                }
                blockMembers.RequiredString("text");
            }
            summary = summaryValue.Clone();
        }
        return new ThoughtBlock(members.OptionalString("text"))
        {
            Signature = members.OptionalString("signature"),
            Summary = summary,
            ProviderType = providerType,
            ExtraData = members.Optional("extra_data")?.Clone(),
        };
    }

    /// <summary>An unknown block's fields, with the legacy <c>model_provider_name</c> form TensorZero still reads.</summary>
    public static UnknownBlock ReadUnknown(JsonMembers members)
    {
        if (!members.TryGetRaw("data", out var data))
        {
            throw members.Missing("data");
        }
        var modelName = members.OptionalString("model_name");
        var providerName = members.OptionalString("provider_name");
        var legacy = members.OptionalString("model_provider_name");
        if (modelName is not null || providerName is not null)
        {
            if (legacy is not null)
            {
                throw new RequestFormatException(JsonMembers.Prefix(members.Path,
                    "Cannot specify both `model_provider_name` and `model_name`/`provider_name`"));
            }
        }
        else if (legacy is not null)
        {
            const string prefix = "tensorzero::model_name::";
            const string separator = "::provider_name::";
            if (!legacy.StartsWith(prefix, StringComparison.Ordinal))
            {
                throw new RequestFormatException(JsonMembers.Prefix(members.Path,
                    $"Invalid legacy `model_provider_name` format (missing prefix): {legacy}"));
            }
            var rest = legacy[prefix.Length..];
            var at = rest.IndexOf(separator, StringComparison.Ordinal);
            if (at < 0)
            {
                throw new RequestFormatException(JsonMembers.Prefix(members.Path,
                    $"Invalid legacy `model_provider_name` format (missing provider_name): {legacy}"));
            }
            modelName = rest[..at];
            providerName = rest[(at + separator.Length)..];
        }
        return new UnknownBlock(data.Clone()) { ModelName = modelName, ProviderName = providerName };
    }

    /// <summary>An image <c>detail</c>: <c>low</c>, <c>high</c> or <c>auto</c>.</summary>
    public static string? ReadDetail(JsonMembers members)
    {
        var detail = members.OptionalString("detail");
        return detail is null || Array.IndexOf(DetailValues, detail) >= 0
            ? detail
            : throw JsonMembers.UnknownVariant(members.PathOf("detail"), detail, DetailValues);
    }

    /// <summary>
    /// Splits <c>data:&lt;mime&gt;;base64,&lt;data&gt;</c> as TensorZero does; on failure the message is TensorZero's
    /// (without its "Invalid request to OpenAI-compatible endpoint: " prefix, which the caller adds).
    /// </summary>
    public static bool TryParseDataUrl(string url, out string mimeType, out string data, out string? error)
    {
        mimeType = data = "";
        if (!url.StartsWith("data:", StringComparison.Ordinal))
        {
            error = $"Expected a base64-encoded data URL with MIME type (e.g. {DataUrlExample}), but got a value without the `data:` prefix.";
            return false;
        }
        var rest = url["data:".Length..];
        var separator = rest.IndexOf(";base64,", StringComparison.Ordinal);
        if (separator < 0)
        {
            error = $"Expected a base64-encoded data URL with MIME type (e.g. {DataUrlExample}), but got a value without the `;base64,` separator.";
            return false;
        }
        mimeType = rest[..separator];
        data = rest[(separator + ";base64,".Length)..];
        if (!IsMediaType(mimeType))
        {
            error = $"Unknown MIME type `{mimeType}` in data URL";
            return false;
        }
        error = null;
        return true;
    }

    /// <summary>Whether a text is a media type (<c>type/subtype</c> of RFC 9110 tokens, optional parameters).</summary>
    public static bool IsMediaType(string value)
    {
        var main = value.Split(';', 2)[0].Trim();
        var slash = main.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && slash < main.Length - 1 && IsToken(main.AsSpan(0, slash)) && IsToken(main.AsSpan(slash + 1));
    }

    /// <summary>An absolute URL with a scheme, as the <c>url</c> crate requires.</summary>
    public static bool IsAbsoluteUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && !string.IsNullOrEmpty(uri.Scheme) && value.Contains(':', StringComparison.Ordinal);

    /// <summary>
    /// The audio MIME type of base64 <c>input_audio</c> data, detected from its magic bytes as TensorZero does;
    /// null with <paramref name="error"/> when the data is not base64 or not recognizably audio.
    /// </summary>
    public static string? DetectAudioMimeType(string base64, string format, out string? error)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException ex)
        {
            error = $"Invalid base64 data in input_audio: {ex.Message}";
            return null;
        }
        var detected = SniffMimeType(bytes);
        if (detected is null)
        {
            error = $"Could not detect audio format from file content. Format field was: {format}";
            return null;
        }
        var type = detected[..detected.IndexOf('/', StringComparison.Ordinal)];
        if (type != "audio")
        {
            error = $"Expected audio file for input_audio, but detected {detected} (type: {type})";
            return null;
        }
        error = null;
        return detected;
    }

    /// <summary>The MIME type of a few common formats by their magic bytes (the names the <c>infer</c> crate gives).</summary>
    public static string? SniffMimeType(ReadOnlySpan<byte> bytes)
    {
        static bool At(ReadOnlySpan<byte> data, int offset, ReadOnlySpan<byte> magic) =>
            data.Length >= offset + magic.Length && data.Slice(offset, magic.Length).SequenceEqual(magic);

        if (At(bytes, 0, "RIFF"u8) && At(bytes, 8, "WAVE"u8))
        {
            return "audio/x-wav";
        }
        if (At(bytes, 0, "RIFF"u8) && At(bytes, 8, "WEBP"u8))
        {
            return "image/webp";
        }
        if (At(bytes, 0, "ID3"u8) || (bytes.Length >= 2 && bytes[0] == 0xFF && (bytes[1] is 0xFB or 0xF3 or 0xF2)))
        {
            return "audio/mpeg";
        }
        if (bytes.Length >= 2 && bytes[0] == 0xFF && (bytes[1] is 0xF1 or 0xF9))
        {
            return "audio/aac";
        }
        if (At(bytes, 0, "OggS"u8))
        {
            return "audio/ogg";
        }
        if (At(bytes, 0, "fLaC"u8))
        {
            return "audio/x-flac";
        }
        if (At(bytes, 0, "#!AMR"u8))
        {
            return "audio/amr";
        }
        if (At(bytes, 0, "FORM"u8) && At(bytes, 8, "AIFF"u8))
        {
            return "audio/x-aiff";
        }
        if (At(bytes, 0, "MThd"u8))
        {
            return "audio/midi";
        }
        if (At(bytes, 4, "ftypM4A"u8))
        {
            return "audio/m4a";
        }
        if (At(bytes, 0, [0x89, (byte)'P', (byte)'N', (byte)'G']))
        {
            return "image/png";
        }
        if (At(bytes, 0, [0xFF, 0xD8, 0xFF]))
        {
            return "image/jpeg";
        }
        if (At(bytes, 0, "GIF8"u8))
        {
            return "image/gif";
        }
        if (At(bytes, 0, "%PDF"u8))
        {
            return "application/pdf";
        }
        return null;
    }

    /// <summary>
    /// A value as compact JSON text, the way serde_json's <c>Value::to_string</c> writes it (TensorZero uses it for
    /// an OpenAI <c>tool</c> message's content and for tool-call arguments given as an object).
    /// </summary>
    public static string CompactJson(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            value.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static bool IsToken(ReadOnlySpan<char> value)
    {
        foreach (var c in value)
        {
            if (c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?={}".Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return !value.IsEmpty;
    }
}
