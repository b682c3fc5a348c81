using System.Text.Json;
using TensorZero.Proxy.Templates;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Templates;

/// <summary>
/// TensorZero's own templates (copied under fixtures/tensorzero with their repository paths) rendered with sample
/// arguments. Expected outputs follow MiniJinja's rules: the final newline of a template is dropped, <c>-</c> trims
/// whitespace next to a tag, maps iterate in key order, <c>tojson(indent=2)</c> is serde_json's pretty form.
/// </summary>
public sealed class TensorZeroTemplateTests
{
    private static readonly string Root =
        Path.Combine(RepoPaths.Root, "tests", "TensorZero.Proxy.Tests", "Templates", "fixtures", "tensorzero");

    public static TheoryData<string, string, string> Examples => new()
    {
        {
            "crates/tensorzero-core/fixtures/config/functions/basic_test/prompt/simple_system_template.minijinja",
            """{"assistant_name": "Dr. Mehta"}""",
            "You are a helpful and friendly assistant named Dr. Mehta"
        },
        {
            "crates/tensorzero-core/fixtures/config/functions/basic_test_template_no_schema/prompt/my_custom_template.minijinja",
            """{"first_variable": "one", "second_variable": 2}""",
            "New template: first_variable=one second_variable=2"
        },
        {
            "crates/tensorzero-core/fixtures/config/functions/variant_failover/prompt/user_template.minijinja",
            """{"quantity": 3, "type": "apples"}""",
            "I want 3 of apples, please."
        },
        {
            "crates/tensorzero-core/fixtures/config/functions/templates_without_variables/variant_without_templates/system_template.minijinja",
            "null",
            "This is a system template without any variables."
        },
        {
            // `-%}` after the for tag and `{%-`/`-%}` around endfor eat every line break of the list.
            "crates/tensorzero-core/fixtures/config/functions/judge_answer/gpt-4.1-mini/system_template.minijinja",
            """{"question": "Capital of France?", "answers": ["Paris", "paris"]}""",
            """
            You are a judge evaluating the answer a researcher has found for the following question:

            Capital of France?

            The ground truth answer(s) to the question are:
            - Paris- parisPlease give a score between 0 and 1 for the answer in the form {"score": number}.
            You can give partial credit in the case where there are many answers in your ground truth list but not if the answer is "close".
            """
        },
        {
            "crates/tensorzero-core/src/evaluations/llm_judge_user_template.minijinja",
            """{"input": "2+2?", "generated_output": "4", "reference_output": null}""",
            "# Input\n\n2+2?\n\n# Generated Output\n\n4"
        },
        {
            "crates/tensorzero-core/src/evaluations/llm_judge_user_template.minijinja",
            """{"input": "2+2?", "generated_output": "4", "reference_output": "four"}""",
            "# Input\n\n2+2?\n\n# Generated Output\n\n4# Reference Output\n\nfour"
        },
        {
            "examples/chess-puzzles/config/functions/play_chess_board/chess_prompt/user_template.minijinja",
            """{"board": "8/8/8/8/8/8/8/K6k", "color": "white", "legal_moves_san": ["Ka2", "Kb1"]}""",
            """
            The current board state is:

            8/8/8/8/8/8/8/K6k

            You are playing white and it is your move.

            Here, capital letters represent white pieces and lowercase letters represent black pieces.

            The legal moves are:
            - Ka2
            - Kb1

            What's your next move?
            """
        },
        {
            "ui/fixtures/config/functions/custom_template_test/baseline/analysis_prompt.minijinja",
            """{"data": [1, 2], "aspects": ["trend", "outliers"]}""",
            "Analyze the following data:\n[1, 2]\n\nFocus on:\n\n- trend\n\n- outliers\n"
        },
        {
            "examples/haiku-hidden-preferences/config/functions/judge_haiku/judge_prompt/user_template.minijinja",
            """{"topic": "rain", "haiku": "drops on the tin roof"}""",
            "The topic is rain. Here is the haiku:\n\ndrops on the tin roof"
        },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void Render_TensorZeroTemplate_ProducesMiniJinjaOutput(string path, string arguments, string expected)
    {
        var set = TemplateSet.Compile([Load(path)], null);

        set.Render(path, Json(arguments)).Should().Be(expected);
    }

    [Theory]
    [InlineData(
        "crates/tensorzero-core/fixtures/config/functions/basic_test/prompt/system_template.minijinja",
        "crates/tensorzero-core/tests/e2e",
        "You are a helpful and friendly assistant named Dr. Mehta")]
    [InlineData(
        "examples/docs/guides/operations/organize-your-configuration/config/projectA/templates/system.minijinja",
        "examples/docs/guides/operations/organize-your-configuration/config",
        "You're a helpful assistant.\n\nDon't make any mistakes.")]
    public void Render_TemplateIncludingAFile_LoadsItThroughTheResolver(string path, string basePath, string expected)
    {
        var requested = new List<string>();
        string? Resolve(string name)
        {
            requested.Add(name);
            var file = Path.Combine(Root, basePath, name);
            return File.Exists(file) ? File.ReadAllText(file) : null;
        }

        var set = TemplateSet.Compile([Load(path)], Resolve);

        set.Render(path, Json("""{"assistant_name": "Dr. Mehta"}""")).Should().Be(expected);
        requested.Should().ContainSingle();
        set.Contains(requested[0]).Should().BeTrue();
    }

    [Fact]
    public void Render_GepaMutateUserTemplate_RendersLoopsTestsAndPrettyJson()
    {
        const string path = "crates/tensorzero-optimizers/src/gepa/functions/mutate/user_template.minijinja";
        var set = TemplateSet.Compile([Load(path)], null);
        var arguments = Json("""
            {
              "function_config": {"type": "chat"},
              "evaluation_config": {"evaluators": ["exact"]},
              "templates_map": {"user": "U", "system": "S"},
              "analyses": [
                {"analysis": "A1"},
                {"input": {"q": 1}, "output": "o", "analysis": "A2"}
              ]
            }
            """);

        var output = set.Render(path, arguments);

        output.Should().StartWith("""
            <function_context>
            <function_config>
            {
              "type": "chat"
            }
            </function_config>

            <evaluation_config>
            {
              "evaluators": [
                "exact"
              ]
            }
            </evaluation_config>
            </function_context>

            <message_templates>
            {
              "system": "S",
              "user": "U"
            }
            </message_templates>

            <analyses>
            <example n="1">
            <analysis>
            A1
            </analysis>
            </example>
            <example n="2">
            <input>
            {
              "q": 1
            }
            </input>
            <output>
            "o"
            </output><analysis>
            A2
            </analysis>
            </example>
            </analyses>
            """);
        output.Should().Contain("""
                    {"name": "system", "content": "<your improved system template as a string>"},
                    {"name": "user", "content": "<your improved user template as a string>"}
                ]
            """);
        output.Should().Contain("- Return improved versions of ALL message_templates: system, user\n");
        output.Should().EndWith("ensure your improved instructions align with it.");
    }

    [Fact]
    public void Render_RawBlock_PrintsTemplateSyntaxVerbatim()
    {
        const string path = "crates/tensorzero-optimizers/src/gepa/functions/mutate/system_template.minijinja";
        var set = TemplateSet.Compile([Load(path)], null);

        var output = set.Render(path, null);

        output.Should().Contain("- Always preserve variable placeholders like {{variable_name}} exactly as they appear in the schemas");
        set.UndeclaredVariables(path).Should().BeEmpty();
    }

    [Theory]
    [InlineData("examples/chess-puzzles/config/functions/play_chess_board/chess_prompt/user_template.minijinja", "board,color,legal_moves_san")]
    [InlineData("crates/tensorzero-core/src/evaluations/llm_judge_user_template.minijinja", "generated_output,input,reference_output")]
    [InlineData("crates/tensorzero-optimizers/src/gepa/functions/mutate/user_template.minijinja", "analyses,evaluation_config,function_config,static_tools,templates_map")]
    [InlineData("crates/tensorzero-optimizers/src/gepa/functions/analyze/user_template.minijinja", "datapoint,evaluation_config,evaluation_scores,function_config,output,static_tools,templates_map")]
    [InlineData("crates/tensorzero-core/fixtures/config/functions/templates_without_variables/variant_without_templates/system_template.minijinja", "")]
    public void UndeclaredVariables_TensorZeroTemplate_ListsTheVariablesItReads(string path, string expected)
    {
        var set = TemplateSet.Compile([Load(path)], null);

        set.UndeclaredVariables(path).Should().BeEquivalentTo(expected.Split(',', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Render_LlmJudgeTemplateWithoutReferenceOutput_FailsAsStrictUndefined()
    {
        // TensorZero renders with UndefinedBehavior::Strict, so `{% if reference_output %}` needs the variable set.
        const string path = "crates/tensorzero-core/src/evaluations/llm_judge_user_template.minijinja";
        var set = TemplateSet.Compile([Load(path)], null);

        var render = () => set.Render(path, Json("""{"input": "2+2?", "generated_output": "4"}"""));

        render.Should().Throw<TemplateRenderException>()
            .Which.Should().Match<TemplateRenderException>(e => e.Kind == ErrorKind.UndefinedError && e.Line == 9);
    }

    private static TemplateSource Load(string path)
    {
        var file = Path.Combine(Root, path);
        return new TemplateSource(path, File.ReadAllText(file), file);
    }

    private static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
