using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Tests.Inference;

/// <summary>A one-line text form of a typed request's input, for table-driven reader tests.</summary>
internal static class InputDescription
{
    /// <summary><c>system=...; user: text(hi); assistant: call(id,name,args); user: result(id,name,result)</c>.</summary>
    public static string Of(InferenceInput input)
    {
        var parts = new List<string>();
        if (input.System is SystemText system)
        {
            parts.Add($"system={system.Text}");
        }
        foreach (var message in input.Messages)
        {
            parts.Add((message.Role == Role.User ? "user: " : "assistant: ") + string.Join(", ", message.Content.Select(Block)));
        }
        return string.Join("; ", parts);
    }

    private static string Block(InputContent block) => block switch
    {
        TextBlock t => $"text({t.Text})",
        ToolCallBlock c => $"call({c.Id},{c.RawName},{c.RawArguments})",
        ToolResultBlock r => $"result({r.Id},{r.Name},{r.Result})",
        FileBlock { File.Url: { } url } f => $"image({url},{f.File.Detail})",
        FileBlock f => $"image({f.File.MimeType},{f.File.Base64Data})",
        ThoughtBlock th => $"thought({th.Text},{th.Signature})",
        _ => block.GetType().Name,
    };
}
