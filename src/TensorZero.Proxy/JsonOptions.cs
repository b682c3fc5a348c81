using System.Text.Encodings.Web;
using System.Text.Json;

namespace TensorZero.Proxy;

/// <summary>JSON settings shared by everything the gateway writes itself.</summary>
internal static class JsonOptions
{
    /// <summary>
    /// Responses are JSON for API clients, never embedded in HTML, so characters such as ' and non-ASCII
    /// letters are written as they are rather than as \uXXXX escapes.
    /// </summary>
    public static readonly JsonWriterOptions Writer = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
