using System.Collections.Frozen;
using System.Text.Json;
using TensorZero.Proxy.Functions;

namespace TensorZero.Proxy.Providers;

// The request's parameters: sampling, tools, JSON mode and the reasoning parameters each provider type accepts.
internal static partial class OpenAIChatFormat
{
    private static void WriteSampling(Utf8JsonWriter writer, SamplingParams p, Dialect dialect)
    {
        if (p.Temperature is { } temperature)
        {
            writer.WriteNumber("temperature", temperature);
        }
        if (p.MaxTokens is { } maxTokens)
        {
            writer.WriteNumber(dialect.MaxTokensField, maxTokens);
        }
        if (p.Seed is { } seed && dialect.SeedField is { } seedField)
        {
            writer.WriteNumber(seedField, seed);
        }
        if (p.TopP is { } topP)
        {
            writer.WriteNumber("top_p", topP);
        }
        if (p.PresencePenalty is { } presence)
        {
            writer.WriteNumber("presence_penalty", presence);
        }
        if (p.FrequencyPenalty is { } frequency)
        {
            writer.WriteNumber("frequency_penalty", frequency);
        }
    }

    /// <summary>
    /// <c>reasoning_effort</c>, <c>service_tier</c>, <c>verbosity</c> and <c>thinking_budget_tokens</c> go only to the
    /// types that take them; TensorZero leaves them out elsewhere (with a warning), and so do we.
    /// </summary>
    private static void WriteReasoningParameters(Utf8JsonWriter writer, SamplingParams p, Dialect dialect)
    {
        if (dialect.OpenRouterReasoning)
        {
            if (p.ReasoningEffort is not null || p.ThinkingBudgetTokens is not null)
            {
                writer.WriteStartObject("reasoning");
                if (p.ReasoningEffort is { } effort)
                {
                    writer.WriteString("effort", effort);
                }
                if (p.ThinkingBudgetTokens is { } budget)
                {
                    writer.WriteNumber("max_tokens", budget);
                }
                writer.WriteEndObject();
            }
        }
        else if (dialect.ReasoningEffort && p.ReasoningEffort is { } effort)
        {
            writer.WriteString("reasoning_effort", effort);
        }
        if (dialect.ServiceTiers is { } tiers && p.ServiceTier is { } tier && tiers.Contains(tier))
        {
            writer.WriteString("service_tier", tier);
        }
        if (dialect.Verbosity && p.Verbosity is { } verbosity)
        {
            writer.WriteString("verbosity", verbosity);
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Tools
    // -----------------------------------------------------------------------------------------------------------------

    /// <summary>The tools part of a request: nothing, or tools with their choice.</summary>
    private readonly record struct ToolsPlan(IReadOnlyList<ToolDefinition>? Tools, ToolChoice? Choice, bool? ParallelToolCalls, Dialect? Dialect)
    {
        public void Write(Utf8JsonWriter writer)
        {
            if (Tools is null || Dialect is null)
            {
                return;
            }
            writer.WriteStartArray("tools");
            foreach (var tool in Tools)
            {
                writer.WriteStartObject();
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", tool.Name);
                writer.WriteString("description", tool.Description);
                writer.WritePropertyName("parameters");
                tool.Parameters.WriteTo(writer);
                writer.WriteEndObject();
                // TensorZero puts `strict` beside `function`, not inside it.
                if (Dialect.ToolStrict)
                {
                    writer.WriteBoolean("strict", tool.Strict);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            switch (Choice)
            {
                case ToolChoiceKind kind:
                    writer.WriteString("tool_choice", kind.Kind == "required" && Dialect.RequiredIsAny ? "any" : kind.Kind);
                    break;
                case ToolChoiceSpecific specific:
                    writer.WriteStartObject("tool_choice");
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", specific.Name);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
            }
            if (ParallelToolCalls is { } parallel)
            {
                writer.WriteBoolean("parallel_tool_calls", parallel);
            }
        }
    }

    private static bool TryPlanTools(ModelRequest request, Dialect dialect, string providerModelName, out ToolsPlan plan, out string? error)
    {
        plan = default;
        error = null;
        if (request.JsonMode == JsonMode.Tool)
        {
            // json_mode = "tool": the implicit tool replaces the function's tools and must be called.
            if (request.OutputSchema is not { } schema)
            {
                error = "JSON mode `tool` requires an output schema";
                return false;
            }
            if (!dialect.Tools)
            {
                error = $"a '{dialect.Type}' provider does not support tools, so it cannot be used with JSON mode `tool`";
                return false;
            }
            var implicitTool = new ToolDefinition(ImplicitToolName, ImplicitToolDescription, schema, Strict: false);
            plan = new ToolsPlan([implicitTool], new ToolChoiceSpecific(ImplicitToolName), null, dialect);
            return true;
        }
        if (request.Tools is not { Tools.Length: > 0 } config || !dialect.Tools)
        {
            // Hyperbolic takes no tools: TensorZero leaves them out of its requests.
            return true;
        }
        var choice = config.Choice;
        if (dialect.TogetherToolChoice)
        {
            if (choice is ToolChoiceKind { Kind: "none" })
            {
                return true;
            }
            if (choice is ToolChoiceKind { Kind: "required" })
            {
                choice = ToolChoice.Auto;
            }
        }
        var parallel = dialect.ParallelToolCalls ? config.ParallelToolCalls : null;
        if (dialect.O1Quirks && parallel == false && providerModelName.StartsWith("o1", StringComparison.OrdinalIgnoreCase))
        {
            // o1 models reject parallel_tool_calls: false.
            parallel = null;
        }
        plan = new ToolsPlan(config.Tools, choice, parallel, dialect);
        return true;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // JSON mode
    // -----------------------------------------------------------------------------------------------------------------

    private enum FormatKind
    {
        None,
        Text,
        JsonObject,
        JsonObjectWithSchema,
        JsonSchema,
        GuidedJson,
    }

    /// <summary>How the request asks for JSON: <c>response_format</c> or vLLM's <c>guided_json</c>.</summary>
    private readonly record struct FormatPlan(FormatKind Kind, JsonElement? Schema)
    {
        public void Write(Utf8JsonWriter writer)
        {
            switch (Kind)
            {
                case FormatKind.Text:
                case FormatKind.JsonObject:
                    writer.WriteStartObject("response_format");
                    writer.WriteString("type", Kind == FormatKind.Text ? "text" : "json_object");
                    writer.WriteEndObject();
                    break;
                case FormatKind.JsonObjectWithSchema:
                    writer.WriteStartObject("response_format");
                    writer.WriteString("type", "json_object");
                    if (Schema is { } schema)
                    {
                        writer.WritePropertyName("schema");
                        schema.WriteTo(writer);
                    }
                    writer.WriteEndObject();
                    break;
                case FormatKind.JsonSchema:
                    writer.WriteStartObject("response_format");
                    writer.WriteString("type", "json_schema");
                    writer.WriteStartObject("json_schema");
                    writer.WriteString("name", "response");
                    writer.WriteBoolean("strict", true);
                    writer.WritePropertyName("schema");
                    Schema!.Value.WriteTo(writer);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
                case FormatKind.GuidedJson:
                    writer.WritePropertyName("guided_json");
                    Schema!.Value.WriteTo(writer);
                    break;
            }
        }
    }

    private static bool TryPlanResponseFormat(ModelRequest request, Dialect dialect, string providerModelName, out FormatPlan plan, out string? error)
    {
        error = null;
        // json_mode = "tool" asks through the implicit tool: to the provider, JSON mode is off.
        var mode = request.JsonMode == JsonMode.Tool ? JsonMode.Off : request.JsonMode;
        var schema = request.OutputSchema;
        plan = new FormatPlan(FormatKind.None, null);
        switch (dialect.ResponseFormat)
        {
            case ResponseFormatStyle.OpenAI:
            case ResponseFormatStyle.OpenAIWith35Fallback:
            case ResponseFormatStyle.OpenAIWithExplicitText:
                if (mode == JsonMode.Strict && dialect.ResponseFormat == ResponseFormatStyle.OpenAIWith35Fallback
                    && providerModelName.Contains("3.5", StringComparison.Ordinal))
                {
                    // GPT-3.5 models have no structured outputs.
                    plan = new FormatPlan(FormatKind.JsonObject, null);
                }
                else
                {
                    plan = mode switch
                    {
                        JsonMode.On => new FormatPlan(FormatKind.JsonObject, null),
                        JsonMode.Strict => schema is null ? new FormatPlan(FormatKind.JsonObject, null) : new FormatPlan(FormatKind.JsonSchema, schema),
                        _ => new FormatPlan(dialect.ResponseFormat == ResponseFormatStyle.OpenAIWithExplicitText ? FormatKind.Text : FormatKind.None, null),
                    };
                }
                return true;
            case ResponseFormatStyle.JsonObjectWithSchema:
                if (mode is JsonMode.On or JsonMode.Strict)
                {
                    plan = new FormatPlan(FormatKind.JsonObjectWithSchema, schema);
                }
                return true;
            case ResponseFormatStyle.JsonObjectOnly:
                if (mode is JsonMode.On or JsonMode.Strict)
                {
                    plan = new FormatPlan(FormatKind.JsonObject, null);
                }
                return true;
            case ResponseFormatStyle.JsonSchemaRequired:
                if (mode is JsonMode.On or JsonMode.Strict)
                {
                    if (schema is null)
                    {
                        error = $"a '{dialect.Type}' provider requires an output schema in JSON mode";
                        return false;
                    }
                    plan = new FormatPlan(FormatKind.JsonSchema, schema);
                }
                return true;
            case ResponseFormatStyle.GuidedJson:
                if (mode is JsonMode.On or JsonMode.Strict && schema is not null)
                {
                    plan = new FormatPlan(FormatKind.GuidedJson, schema);
                }
                return true;
            default:
                return true;
        }
    }
}

/// <summary>
/// File name extensions of MIME types, as TensorZero names them: the <c>filename</c> of a file part, the format of
/// an audio part, and the suffix of a file's object storage path.
/// </summary>
internal static class MimeTypes
{
    private static readonly FrozenDictionary<string, string> Extensions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["image/jpeg"] = "jpg",
        ["image/png"] = "png",
        ["image/gif"] = "gif",
        ["application/pdf"] = "pdf",
        ["image/webp"] = "webp",
        ["text/plain"] = "txt",
        ["audio/midi"] = "mid",
        ["audio/mpeg"] = "mp3",
        ["audio/mp3"] = "mp3",
        ["audio/m4a"] = "m4a",
        ["audio/mp4"] = "m4a",
        ["audio/ogg"] = "ogg",
        ["audio/x-flac"] = "flac",
        ["audio/flac"] = "flac",
        ["audio/x-wav"] = "wav",
        ["audio/wav"] = "wav",
        ["audio/wave"] = "wav",
        ["audio/amr"] = "amr",
        ["audio/aac"] = "aac",
        ["audio/x-aac"] = "aac",
        ["audio/x-aiff"] = "aiff",
        ["audio/aiff"] = "aiff",
        ["audio/x-dsf"] = "dsf",
        ["audio/x-ape"] = "ape",
        ["audio/webm"] = "webm",
        // TensorZero guesses other types from a MIME database; these are the common ones it would find.
        ["application/json"] = "json",
        ["text/csv"] = "csv",
        ["text/html"] = "html",
        ["text/markdown"] = "md",
        ["image/svg+xml"] = "svg",
        ["image/tiff"] = "tiff",
        ["image/bmp"] = "bmp",
        ["image/heic"] = "heic",
        ["application/xml"] = "xml",
        ["text/xml"] = "xml",
        ["application/zip"] = "zip",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>The extension (without a dot) of <paramref name="mimeType"/>; null when none is known.</summary>
    public static string? Extension(string mimeType)
    {
        var semicolon = mimeType.IndexOf(';');
        var essence = (semicolon >= 0 ? mimeType[..semicolon] : mimeType).Trim();
        return Extensions.TryGetValue(essence, out var extension) ? extension : null;
    }
}
