using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.Json;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Templates;

namespace TensorZero.Proxy.Functions;

/// <summary>
/// A function's TensorZero semantics, compiled once per configuration: its kind, its input schemas by template name
/// (<c>system_schema</c> is the schema named <c>system</c>, and so on), its output schema, its tools, and the template
/// names its variants define. <see cref="Default"/> is what a model target gets (TensorZero's <c>tensorzero::default</c>:
/// a chat function with no schemas, templates or tools).
/// </summary>
internal sealed class FunctionSemantics
{
    /// <summary>The implicit template and schema names of the three roles.</summary>
    public const string SystemName = "system";

    public const string UserName = "user";

    public const string AssistantName = "assistant";

    /// <summary>TensorZero's implicit tool for <c>json_mode = "tool"</c>.</summary>
    public const string ImplicitToolName = "respond";

    public const string ImplicitToolDescription = "Respond to the user using the output schema provided.";

    private FunctionSemantics(
        string name, FunctionKind kind, FrozenDictionary<string, SchemaValidator> schemas, SchemaValidator? outputSchema,
        ImmutableArray<ToolDefinition> tools, FrozenDictionary<string, ToolDefinition> staticTools, ToolChoice toolChoice, bool? parallelToolCalls,
        FrozenSet<string> templateNames)
    {
        Name = name;
        Kind = kind;
        Schemas = schemas;
        OutputSchema = outputSchema;
        Tools = tools;
        StaticTools = staticTools;
        ToolChoice = toolChoice;
        ParallelToolCalls = parallelToolCalls;
        TemplateNames = templateNames;
    }

    /// <summary>The semantics of a model target: a chat function without schemas, templates or tools.</summary>
    public static FunctionSemantics Default { get; } = new(
        "tensorzero::default", FunctionKind.Chat, FrozenDictionary<string, SchemaValidator>.Empty, null, [],
        FrozenDictionary<string, ToolDefinition>.Empty, ToolChoice.Auto, null, FrozenSet<string>.Empty);

    public string Name { get; }

    public FunctionKind Kind { get; }

    /// <summary>Input schemas by template name (the implicit <c>system</c>/<c>user</c>/<c>assistant</c> included).</summary>
    public FrozenDictionary<string, SchemaValidator> Schemas { get; }

    /// <summary>The output schema of a JSON function (an empty schema, accepting anything, when none is configured).</summary>
    public SchemaValidator? OutputSchema { get; }

    /// <summary>The function's own tools (<c>tools = [...]</c>), in order.</summary>
    public ImmutableArray<ToolDefinition> Tools { get; }

    /// <summary>Every tool of <c>[tools]</c> by key: <c>allowed_tools</c> may name any of them.</summary>
    public FrozenDictionary<string, ToolDefinition> StaticTools { get; }

    public ToolChoice ToolChoice { get; }

    public bool? ParallelToolCalls { get; }

    /// <summary>Every template name some variant defines: input for a template with no schema must have one.</summary>
    public FrozenSet<string> TemplateNames { get; }

    /// <summary>Tools of <c>[tools]</c> as the model sees them, by key; null entries failed (errors added).</summary>
    public static FrozenDictionary<string, ToolDefinition> CompileTools(GatewayConfig config, List<string> errors)
    {
        var tools = new Dictionary<string, ToolDefinition>(StringComparer.Ordinal);
        foreach (var (key, tool) in config.Tools)
        {
            if (!SchemaValidator.TryCompile(tool.Parameters.Schema, out _, out var why))
            {
                errors.Add($"tools.{key}.parameters ({tool.Parameters.Path}): {why}");
                continue;
            }
            tools[key] = new ToolDefinition(tool.Name, tool.Description, tool.Parameters.Schema, tool.Strict);
        }
        return tools.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Compiles a function's schemas and tools; problems are added to <paramref name="errors"/> with key paths.</summary>
    public static FunctionSemantics Compile(
        FunctionConfig function, FrozenDictionary<string, ToolDefinition> staticTools, IEnumerable<VariantPrompt> variants, List<string> errors)
    {
        var path = $"functions.{function.Name}";
        var schemas = new Dictionary<string, SchemaValidator>(StringComparer.Ordinal);
        void AddSchema(string name, SchemaFile? file, string key)
        {
            if (file is null)
            {
                return;
            }
            if (schemas.ContainsKey(name))
            {
                errors.Add($"{path}.{key}: the schema '{name}' is defined twice (as {key} and under schemas)");
                return;
            }
            if (SchemaValidator.TryCompile(file.Schema, out var validator, out var why))
            {
                schemas[name] = validator!;
            }
            else
            {
                errors.Add($"{path}.{key} ({file.Path}): {why}");
            }
        }
        AddSchema(SystemName, function.SystemSchema, "system_schema");
        AddSchema(UserName, function.UserSchema, "user_schema");
        AddSchema(AssistantName, function.AssistantSchema, "assistant_schema");
        foreach (var (name, file) in function.Schemas)
        {
            // The configuration lists system_schema/user_schema/assistant_schema under schemas too (it refused real duplicates).
            if (!schemas.ContainsKey(name))
            {
                AddSchema(name, file, $"schemas.{name}");
            }
        }

        SchemaValidator? output = null;
        if (function.Kind == FunctionKind.Json)
        {
            using var empty = JsonDocument.Parse("{}");
            var schema = function.OutputSchema?.Schema ?? empty.RootElement.Clone();
            if (SchemaValidator.TryCompile(schema, out var validator, out var why))
            {
                output = validator;
            }
            else
            {
                errors.Add($"{path}.output_schema ({function.OutputSchema?.Path}): {why}");
            }
        }

        var tools = ImmutableArray.CreateBuilder<ToolDefinition>();
        foreach (var name in function.Tools)
        {
            if (staticTools.TryGetValue(name, out var tool))
            {
                tools.Add(tool);
            }
            else
            {
                errors.Add($"{path}.tools: tool '{name}' is not defined under [tools]");
            }
        }

        var templateNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var variant in variants)
        {
            templateNames.UnionWith(variant.TemplateNames);
        }
        return new FunctionSemantics(
            function.Name, function.Kind, schemas.ToFrozenDictionary(StringComparer.Ordinal), output, tools.ToImmutable(), staticTools,
            function.ToolChoice, function.ParallelToolCalls, templateNames.ToFrozenSet(StringComparer.Ordinal));
    }

    /// <summary>
    /// Checks an input against the function's schemas (TensorZero's <c>validate_input</c>): the system part and every
    /// text or template block, each against the schema of its template name; without a schema, non-string content needs
    /// a template of that name in some variant. Null when valid, else the 400 message.
    /// </summary>
    public string? ValidateInput(InferenceInput input)
    {
        if (input.System is { } system)
        {
            using var holder = system is SystemText t ? JsonDocument.Parse(JsonSerializer.Serialize(t.Text)) : null;
            var value = holder?.RootElement ?? ((SystemArguments)system).Arguments;
            if (ValidateOne(value, SystemName, index: null) is { } error)
            {
                return error;
            }
        }
        else if (Schemas.ContainsKey(SystemName))
        {
            return "`input.system` is empty but a system template is present.";
        }

        for (var index = 0; index < input.Messages.Length; index++)
        {
            var message = input.Messages[index];
            var roleName = message.Role == Role.User ? UserName : AssistantName;
            foreach (var block in message.Content)
            {
                string? error = null;
                switch (block)
                {
                    case TextBlock text:
                        if (Schemas.TryGetValue(roleName, out var roleSchema))
                        {
                            using var doc = JsonDocument.Parse(JsonSerializer.Serialize(text.Text));
                            error = Validated(roleSchema, doc.RootElement, roleName, index);
                        }
                        break;
                    case ArgumentsInput arguments:
                        error = ValidateOne(arguments.Arguments, roleName, index);
                        break;
                    case TemplateInput template:
                        error = ValidateOne(template.Arguments, template.Name, index);
                        break;
                }
                if (error is not null)
                {
                    return error;
                }
            }
        }
        return null;
    }

    private string? ValidateOne(JsonElement value, string templateName, int? index)
    {
        if (Schemas.TryGetValue(templateName, out var schema))
        {
            return Validated(schema, value, templateName, index);
        }
        if (value.ValueKind != JsonValueKind.String && !TemplateNames.Contains(templateName))
        {
            return index is { } i
                ? $"Message at index {i} has non-string content but there is no template `{templateName}` in any variant"
                : $"System message has non-string content but there is no template `{templateName}` in any variant";
        }
        return null;
    }

    private static string? Validated(SchemaValidator schema, JsonElement value, string templateName, int? index)
    {
        var problem = schema.Validate(value);
        if (problem is null)
        {
            return null;
        }
        var where = index is { } i ? $"message at index {i} (schema `{templateName}`)" : $"the system message (schema `{templateName}`)";
        return $"JSON Schema validation failed for {where}: {problem}";
    }
}

/// <summary>
/// One variant's prompt: its templates compiled into one <see cref="TemplateSet"/>, each known by its template name,
/// with its schema and whether it was declared the legacy way (<c>system_template</c>, <c>user_template</c>,
/// <c>assistant_template</c>), which changes what a template without a schema is given (<c>system_text</c>, ...).
/// </summary>
internal sealed class VariantPrompt
{
    /// <summary>A template of the variant.</summary>
    /// <param name="Name">The template name (<c>system</c>, <c>user</c>, <c>assistant</c>, or a <c>templates.NAME</c>).</param>
    /// <param name="Legacy">Declared as <c>system_template</c>/<c>user_template</c>/<c>assistant_template</c>.</param>
    public sealed record Template(string Name, bool Legacy);

    private readonly TemplateSet? _templates;

    private VariantPrompt(
        TemplateSet? templates, FrozenDictionary<string, Template> byName, FrozenSet<string> schemaNames, JsonMode? jsonMode, SamplingParams parameters)
    {
        SchemaNames = schemaNames;
        _templates = templates;
        ByName = byName;
        JsonMode = jsonMode;
        Params = parameters;
    }

    /// <summary>A variant without templates (model targets, plain variants).</summary>
    public static VariantPrompt None { get; } = new(null, FrozenDictionary<string, Template>.Empty, FrozenSet<string>.Empty, null, SamplingParams.None);

    /// <summary>The variant's templates by name.</summary>
    public FrozenDictionary<string, Template> ByName { get; }

    public IEnumerable<string> TemplateNames => ByName.Keys;

    /// <summary>The function's schema names: a legacy template with one of them is given the arguments, not `*_text`.</summary>
    public FrozenSet<string> SchemaNames { get; }

    public JsonMode? JsonMode { get; }

    public SamplingParams Params { get; }

    /// <summary>The legacy variables a template without a schema may use, by role.</summary>
    public static string TextVariable(string templateName) => templateName + "_text";

    /// <summary>
    /// Compiles a variant's templates; syntax errors, missing includes and (for legacy templates without a schema)
    /// variables other than <c>system_text</c>/<c>user_text</c>/<c>assistant_text</c> are added to <paramref name="errors"/>.
    /// </summary>
    public static VariantPrompt Compile(
        FunctionConfig function, VariantConfig variant, string? templateBaseDirectory, List<string> errors)
    {
        var path = $"functions.{function.Name}.variants.{variant.Name}";
        var sources = new List<TemplateSource>();
        var byName = new Dictionary<string, Template>(StringComparer.Ordinal);
        void Add(string name, TemplateFile? file, bool legacy, string key)
        {
            if (file is null)
            {
                return;
            }
            if (!byName.TryAdd(name, new Template(name, legacy)))
            {
                errors.Add($"{path}.{key}: the template '{name}' is defined twice");
                return;
            }
            sources.Add(new TemplateSource(name, file.Text, file.Path));
        }
        Add(FunctionSemantics.SystemName, variant.SystemTemplate, legacy: true, "system_template");
        Add(FunctionSemantics.UserName, variant.UserTemplate, legacy: true, "user_template");
        Add(FunctionSemantics.AssistantName, variant.AssistantTemplate, legacy: true, "assistant_template");
        foreach (var (name, file) in variant.Templates)
        {
            Add(name, file, legacy: false, $"templates.{name}");
        }

        TemplateSet? set = null;
        if (sources.Count > 0)
        {
            try
            {
                set = TemplateSet.Compile(sources, IncludeResolver(templateBaseDirectory));
            }
            catch (TemplateException ex)
            {
                foreach (var error in ex.Errors)
                {
                    errors.Add($"{path}: {error}");
                }
                return None;
            }
        }

        var schemaNames = new HashSet<string>(function.Schemas.Keys, StringComparer.Ordinal);
        if (function.SystemSchema is not null)
        {
            schemaNames.Add(FunctionSemantics.SystemName);
        }
        if (function.UserSchema is not null)
        {
            schemaNames.Add(FunctionSemantics.UserName);
        }
        if (function.AssistantSchema is not null)
        {
            schemaNames.Add(FunctionSemantics.AssistantName);
        }

        foreach (var (name, template) in byName)
        {
            // TensorZero: a legacy template without a schema may read only its role's text variable.
            if (template.Legacy && !schemaNames.Contains(name) && set is not null)
            {
                var allowed = TextVariable(name);
                var variables = set.UndeclaredVariables(name);
                if (variables.Count > 0 && !(variables.Count == 1 && variables.Contains(allowed)))
                {
                    errors.Add($"{path}.{name}_template: template needs variables: [{string.Join(", ", variables.Order(StringComparer.Ordinal))}] " +
                        $"but only `{allowed}` is allowed when template has no schema");
                }
            }
        }
        if (variant.Type == VariantType.ChatCompletion)
        {
            foreach (var schema in schemaNames)
            {
                if (!byName.ContainsKey(schema))
                {
                    var key = schema is FunctionSemantics.SystemName or FunctionSemantics.UserName or FunctionSemantics.AssistantName
                        ? $"{schema}_template" : $"templates.{schema}";
                    errors.Add($"{path}.{key} is required when the function defines the schema '{schema}'");
                }
            }
            if (variant.JsonMode == Functions.JsonMode.Tool && function.Kind == FunctionKind.Chat && function.Tools.Length > 0)
            {
                errors.Add($"{path}: Cannot use `json_mode = \"tool\"` with chat functions that have tools configured. " +
                    "Please remove tools from the function or use a JSON function instead.");
            }
        }
        return new VariantPrompt(set, byName.ToFrozenDictionary(StringComparer.Ordinal), schemaNames.ToFrozenSet(StringComparer.Ordinal),
            variant.JsonMode, variant.Params);
    }

    /// <summary>
    /// <c>{% include %}</c> reads only inside <c>gateway.template_filesystem_access.base_path</c>; without it includes
    /// are refused (TensorZero's default).
    /// </summary>
    private static Func<string, string?>? IncludeResolver(string? baseDirectory)
    {
        if (baseDirectory is null)
        {
            return null;
        }
        var root = Path.GetFullPath(baseDirectory);
        var rootWithSeparator = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return name =>
        {
            var full = Path.GetFullPath(Path.Combine(root, name));
            if (!full.StartsWith(rootWithSeparator, StringComparison.Ordinal) || !File.Exists(full))
            {
                return null;
            }
            try
            {
                return File.ReadAllText(full);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        };
    }

    /// <summary>Renders a template; a render failure becomes a <see cref="PromptException"/>.</summary>
    public string Render(string name, JsonElement? context)
    {
        try
        {
            return _templates!.Render(name, context);
        }
        catch (TemplateRenderException ex)
        {
            throw new PromptException($"Failed to render template `{name}`: {ex.Message}");
        }
    }
}

/// <summary>The input cannot be turned into a model request (a 400 for the client).</summary>
internal sealed class PromptException(string message) : Exception(message);
