using System.Collections.Immutable;
using System.Text.Json;

namespace TensorZero.Proxy.Functions;

/// <summary>
/// Turns a typed request into what a variant asks its model (TensorZero's <c>prepare_request</c>): the system part
/// and every message through the variant's templates, parameters (the request's win over the variant's), tools
/// (the function's, filtered by <c>allowed_tools</c>, plus the request's) and the JSON output wanted.
/// </summary>
internal static class PromptBuilder
{
    /// <summary>Builds the model request; throws <see cref="PromptException"/> with the 400 message.</summary>
    public static ModelRequest Build(FunctionSemantics function, VariantPrompt variant, TypedInferenceRequest request)
    {
        var system = RenderSystem(variant, request.Input.System);
        var messages = ImmutableArray.CreateBuilder<ModelMessage>(request.Input.Messages.Length);
        foreach (var message in request.Input.Messages)
        {
            messages.Add(RenderMessage(variant, message));
        }

        var jsonMode = request.JsonMode ?? variant.JsonMode;
        var outputSchema = request.OutputSchema;
        ToolConfig? tools;
        if (function.Kind == FunctionKind.Chat)
        {
            if (jsonMode == JsonMode.Tool)
            {
                tools = outputSchema is { } schema
                    ? ImplicitTool(schema)
                    : throw new PromptException("JSON mode `tool` requires `output_schema` to be provided at inference time.");
            }
            else
            {
                tools = BuildTools(function, request);
            }
            jsonMode ??= JsonMode.Off;
        }
        else
        {
            RejectToolParameters(request);
            outputSchema ??= function.OutputSchema!.Json;
            jsonMode ??= JsonMode.Strict;
            tools = jsonMode == JsonMode.Tool ? ImplicitTool(outputSchema.Value) : null;
        }

        return new ModelRequest
        {
            System = system,
            Messages = messages.MoveToImmutable(),
            Params = variant.Params.OverriddenBy(request.Params),
            Tools = tools,
            Kind = function.Kind,
            JsonMode = jsonMode.Value,
            OutputSchema = outputSchema,
            Stream = request.Stream,
        };
    }

    private static string? RenderSystem(VariantPrompt variant, InputSystem? system)
    {
        if (!variant.ByName.TryGetValue(FunctionSemantics.SystemName, out var template))
        {
            return system switch
            {
                null => null,
                SystemText text => text.Text,
                _ => throw new PromptException("System message content is a template but there is no variant template"),
            };
        }
        if (template.Legacy && !variant.SchemaNames.Contains(template.Name))
        {
            // A legacy template without a schema gets the system text as `system_text`.
            if (system is SystemArguments)
            {
                throw new PromptException("System message content is a template but `input_wrappers.system` is set in the variant config");
            }
            var text = system is SystemText t ? t.Text : null;
            return variant.Render(template.Name, TextContext(VariantPrompt.TextVariable(FunctionSemantics.SystemName), text));
        }
        return system switch
        {
            SystemArguments arguments => variant.Render(template.Name, arguments.Arguments),
            SystemText text => variant.Render(template.Name, StringValue(text.Text)),
            _ => variant.Render(template.Name, null),
        };
    }

    private static ModelMessage RenderMessage(VariantPrompt variant, InputMessage message)
    {
        var roleName = message.Role == Role.User ? FunctionSemantics.UserName : FunctionSemantics.AssistantName;
        var content = ImmutableArray.CreateBuilder<ContentBlock>(message.Content.Length);
        foreach (var block in message.Content)
        {
            switch (block)
            {
                case TextBlock text:
                    if (variant.ByName.TryGetValue(roleName, out var wrapper) && wrapper.Legacy && !variant.SchemaNames.Contains(roleName))
                    {
                        content.Add(new TextBlock(variant.Render(wrapper.Name, TextContext(VariantPrompt.TextVariable(roleName), text.Text))));
                    }
                    else
                    {
                        content.Add(text);
                    }
                    break;
                case ArgumentsInput arguments:
                    content.Add(new TextBlock(RenderNamed(variant, roleName, arguments.Arguments, message.Role)));
                    break;
                case TemplateInput template:
                    content.Add(new TextBlock(RenderNamed(variant, template.Name, template.Arguments, message.Role)));
                    break;
                case RawTextInput raw:
                    content.Add(new TextBlock(raw.Value));
                    break;
                case ContentBlock other:
                    content.Add(other);
                    break;
            }
        }
        return new ModelMessage(message.Role, content.MoveToImmutable());
    }

    private static string RenderNamed(VariantPrompt variant, string name, JsonElement arguments, Role role)
    {
        if (!variant.ByName.TryGetValue(name, out var template))
        {
            throw new PromptException($"Template `{name}` not found");
        }
        if (template.Legacy && !variant.SchemaNames.Contains(name))
        {
            throw new PromptException(
                $"Request message content {arguments.GetRawText()} is not a string but `input_wrappers.{(role == Role.User ? "user" : "assistant")}` " +
                "is set in the variant config");
        }
        return variant.Render(template.Name, arguments);
    }

    private static JsonElement TextContext(string variable, string? text)
    {
        using var document = JsonDocument.Parse(JsonSerializer.Serialize(new Dictionary<string, string?> { [variable] = text }));
        return document.RootElement.Clone();
    }

    private static JsonElement StringValue(string text)
    {
        using var document = JsonDocument.Parse(JsonSerializer.Serialize(text));
        return document.RootElement.Clone();
    }

    private static ToolConfig ImplicitTool(JsonElement schema) => new(
        [new ToolDefinition(FunctionSemantics.ImplicitToolName, FunctionSemantics.ImplicitToolDescription, schema, Strict: false)],
        new ToolChoiceSpecific(FunctionSemantics.ImplicitToolName), ParallelToolCalls: null);

    /// <summary>TensorZero's ToolCallConfig: function tools (or <c>allowed_tools</c>) plus the request's; null when none.</summary>
    private static ToolConfig? BuildTools(FunctionSemantics function, TypedInferenceRequest request)
    {
        var additionalNames = request.AdditionalTools.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var tools = new List<ToolDefinition>();
        if (request.AllowedTools is { } allowed)
        {
            foreach (var name in allowed)
            {
                if (function.StaticTools.TryGetValue(name, out var tool))
                {
                    tools.Add(tool);
                }
                else if (!additionalNames.Contains(name))
                {
                    throw new PromptException($"Tool not found: {name}");
                }
            }
        }
        else
        {
            tools.AddRange(function.Tools);
        }
        tools.AddRange(request.AdditionalTools);

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tool in tools)
        {
            if (!names.Add(tool.Name))
            {
                throw new PromptException($"Duplicate tool name: {tool.Name}");
            }
        }
        if (tools.Count == 0)
        {
            return null;
        }

        var choice = request.ToolChoice ?? function.ToolChoice;
        if (choice is ToolChoiceSpecific specific && !names.Contains(specific.Name))
        {
            throw new PromptException($"Tool choice `{specific.Name}` is not one of the inference's tools ({string.Join(", ", names.Order(StringComparer.Ordinal))}).");
        }
        return new ToolConfig([.. tools], choice, request.ParallelToolCalls ?? function.ParallelToolCalls);
    }

    private static void RejectToolParameters(TypedInferenceRequest request)
    {
        if (request.AllowedTools is not null)
        {
            throw new PromptException("Cannot pass `allowed_tools` to a JSON function.");
        }
        if (request.AdditionalTools.Length > 0)
        {
            throw new PromptException("Cannot pass `additional_tools` to a JSON function.");
        }
        if (request.ToolChoice is not null)
        {
            throw new PromptException("Cannot pass `tool_choice` to a JSON function");
        }
        if (request.ParallelToolCalls is not null)
        {
            throw new PromptException("Cannot pass `parallel_tool_calls` to a JSON function");
        }
    }
}
