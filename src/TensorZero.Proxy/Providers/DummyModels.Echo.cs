using System.Buffers;
using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Functions;
using TensorZero.Proxy.Transforms;

namespace TensorZero.Proxy.Providers;

// The echo models answer with what they were given, serialised as TensorZero serialises its own types
// (serde, fields in declaration order): the request's messages, its files, its extra body and headers.
internal sealed partial class DummyModels
{
    private static string Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions.Writer))
        {
            write(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary><c>{"extra_body": {"extra_body"?, "inference_extra_body"}, "extra_headers": {"variant_extra_headers", "inference_extra_headers"}}</c>.</summary>
    private static string EchoExtraInfo(DummyContext context) => Json(writer =>
    {
        writer.WriteStartObject();
        writer.WriteStartObject("extra_body");
        if (context.VariantExtraBody is { } variantBody)
        {
            writer.WritePropertyName("extra_body");
            variantBody.WriteTo(writer);
        }
        WriteArrayOrEmpty(writer, "inference_extra_body", context.InferenceExtraBody);
        writer.WriteEndObject();
        writer.WriteStartObject("extra_headers");
        writer.WritePropertyName("variant_extra_headers");
        if (context.VariantExtraHeaders is { } variantHeaders)
        {
            variantHeaders.WriteTo(writer);
        }
        else
        {
            writer.WriteNullValue();
        }
        WriteArrayOrEmpty(writer, "inference_extra_headers", context.InferenceExtraHeaders);
        writer.WriteEndObject();
        writer.WriteEndObject();
    });

    private static void WriteArrayOrEmpty(Utf8JsonWriter writer, string name, JsonElement? value)
    {
        writer.WritePropertyName(name);
        if (value is { } element)
        {
            element.WriteTo(writer);
        }
        else
        {
            writer.WriteStartArray();
            writer.WriteEndArray();
        }
    }

    /// <summary>
    /// <c>{"injected_body": ..., "injected_headers": [[name, value], ...]}</c>: the extra body applied to an empty
    /// body, and the headers the operations leave (names lower-cased, as HTTP header maps keep them).
    /// </summary>
    private static string EchoInjectedData(DummyContext context)
    {
        byte[] body;
        try
        {
            body = JsonPointerPatch.Apply("{}"u8.ToArray(), context.BodyOperations);
        }
        catch (JsonPatchException e)
        {
            throw Failure(e.Message);
        }
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var operation in context.HeaderOperations)
        {
            var name = operation.Name.ToLowerInvariant();
            var at = headers.FindIndex(h => h.Key == name);
            if (operation.Value is null)
            {
                if (at >= 0)
                {
                    // An HTTP header map removes by moving its last entry into the gap, and so the order is kept here.
                    headers[at] = headers[^1];
                    headers.RemoveAt(headers.Count - 1);
                }
            }
            else if (at >= 0)
            {
                headers[at] = new(name, operation.Value);
            }
            else
            {
                headers.Add(new(name, operation.Value));
            }
        }
        return Json(writer =>
        {
            writer.WriteStartObject();
            writer.WritePropertyName("injected_body");
            writer.WriteRawValue(body);
            writer.WriteStartArray("injected_headers");
            foreach (var (name, value) in headers)
            {
                writer.WriteStartArray();
                writer.WriteStringValue(name);
                writer.WriteStringValue(value);
                writer.WriteEndArray();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    /// <summary><c>{"system": ..., "messages": [{"role", "content": [blocks]}]}</c>.</summary>
    private static string EchoRequestMessages(ModelRequest request, DummyContext context) => Json(writer =>
    {
        writer.WriteStartObject();
        if (request.System is { } system)
        {
            writer.WriteString("system", system);
        }
        else
        {
            writer.WriteNull("system");
        }
        writer.WriteStartArray("messages");
        foreach (var message in request.Messages)
        {
            writer.WriteStartObject();
            writer.WriteString("role", message.Role == Role.User ? "user" : "assistant");
            writer.WriteStartArray("content");
            foreach (var block in message.Content)
            {
                WriteBlock(writer, block, context);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    });

    private static void WriteBlock(Utf8JsonWriter writer, ContentBlock block, DummyContext context)
    {
        writer.WriteStartObject();
        switch (block)
        {
            case TextBlock text:
                writer.WriteString("type", "text");
                writer.WriteString("text", text.Text);
                break;
            case ToolCallBlock call:
                writer.WriteString("type", "tool_call");
                writer.WriteString("id", call.Id);
                writer.WriteString("name", call.RawName);
                writer.WriteString("arguments", call.RawArguments);
                break;
            case ToolResultBlock result:
                writer.WriteString("type", "tool_result");
                writer.WriteString("name", result.Name);
                writer.WriteString("result", result.Result);
                writer.WriteString("id", result.Id);
                break;
            case FileBlock file:
                writer.WriteString("type", "file");
                WriteFileMembers(writer, file.File, context);
                break;
            case ThoughtBlock thought:
                writer.WriteString("type", "thought");
                Inference.OutputJson.WriteThoughtFields(writer, thought);
                break;
            case UnknownBlock unknown:
                writer.WriteString("type", "unknown");
                Inference.OutputJson.WriteUnknownFields(writer, unknown);
                break;
        }
        writer.WriteEndObject();
    }

    /// <summary>The files as a JSON array of TensorZero's <c>LazyFile</c>s.</summary>
    private static string FilesJson(IReadOnlyList<FileData> files, DummyContext context) => Json(writer =>
    {
        writer.WriteStartArray();
        foreach (var file in files)
        {
            writer.WriteStartObject();
            WriteFileMembers(writer, file, context);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    });

    /// <summary>
    /// A file as TensorZero's <c>LazyFile</c> serialises (externally tagged): a URL as
    /// <c>"Url": {"file_url": {"url", "mime_type", "detail"?, "filename"}}</c>, base64 data as
    /// <c>"Base64": {"source_url", "mime_type", "storage_path": {"kind", "path"}, "detail"?, "filename"?, "data"}</c>,
    /// where the path is the file's content-addressed object key.
    /// </summary>
    private static void WriteFileMembers(Utf8JsonWriter writer, FileData file, DummyContext context)
    {
        if (file.Url is { } url)
        {
            writer.WriteStartObject("Url");
            writer.WriteStartObject("file_url");
            writer.WriteString("url", url);
            WriteNullable(writer, "mime_type", file.MimeType);
            if (file.Detail is not null)
            {
                writer.WriteString("detail", file.Detail);
            }
            WriteNullable(writer, "filename", file.Filename);
            writer.WriteEndObject();
            writer.WriteEndObject();
            return;
        }
        var data = file.Base64Data ?? "";
        var mimeType = file.MimeType ?? "application/octet-stream";
        writer.WriteStartObject("Base64");
        writer.WriteNull("source_url");
        writer.WriteString("mime_type", mimeType);
        writer.WriteStartObject("storage_path");
        writer.WritePropertyName("kind");
        if (context.StorageKind is { } kind)
        {
            kind.WriteTo(writer);
        }
        else
        {
            writer.WriteStartObject();
            writer.WriteString("type", "disabled");
            writer.WriteEndObject();
        }
        writer.WriteString("path", FileStoragePath.Of(data, mimeType));
        writer.WriteEndObject();
        if (file.Detail is not null)
        {
            writer.WriteString("detail", file.Detail);
        }
        if (file.Filename is not null)
        {
            writer.WriteString("filename", file.Filename);
        }
        writer.WriteString("data", data);
        writer.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }
}
