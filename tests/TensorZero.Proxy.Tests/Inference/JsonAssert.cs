using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;

namespace TensorZero.Proxy.Tests.Inference;

/// <summary>Structural JSON comparison (member order and formatting do not matter) and SSE splitting for writer tests.</summary>
internal static class JsonAssert
{
    public static void Same(string actual, string expected)
    {
        var same = JsonNode.DeepEquals(JsonNode.Parse(actual), JsonNode.Parse(expected));
        same.Should().BeTrue($"the JSON should be{Environment.NewLine}{JsonNode.Parse(expected)!.ToJsonString()}{Environment.NewLine}but was{Environment.NewLine}{actual}");
    }

    public static void Same(byte[] actual, string expected) => Same(Encoding.UTF8.GetString(actual), expected);

    /// <summary>The <c>data:</c> payloads of the events written, checking the framing (<c>data: ...\n\n</c>).</summary>
    public static List<string> Events(ArrayBufferWriter<byte> output)
    {
        var text = Encoding.UTF8.GetString(output.WrittenSpan);
        text.Should().EndWith("\n\n");
        var events = text[..^2].Split("\n\n");
        events.Should().AllSatisfy(e => e.Should().StartWith("data: "));
        return events.Select(e => e["data: ".Length..]).ToList();
    }
}
