using System.Text;
using System.Text.Json;
using TensorZero.Proxy.Templates;

namespace TensorZero.Proxy.Tests.Templates;

/// <summary>
/// The API the gateway uses: compile with every error listed, strict undefined as TensorZero configures MiniJinja,
/// loads through the resolver, undeclared variables, and deep recursion ending in an error instead of a crash.
/// </summary>
public sealed class TemplateSetTests
{
    [Theory]
    [InlineData("Hello {{ name }}!", """{"name": "Ada"}""", "Hello Ada!")]
    [InlineData("{{ items | join(', ') }}", """{"items": ["a", "b", 3]}""", "a, b, 3")]
    [InlineData("{{ missing | default('none') }}", "{}", "none")]
    [InlineData("{{ name | upper }} {{ name | lower }} {{ '  x  ' | trim }} {{ name | replace('a', 'o') }}", """{"name": "Ada"}""", "ADA ada x Ado")]
    [InlineData("{{ items | length }} {{ 'abc' | length }} {{ {'a': 1} | length }}", """{"items": [1, 2]}""", "2 3 1")]
    [InlineData("{{ obj | tojson }}", """{"obj": {"b": [1, true, null], "a": "<x>"}}""", """{"a":"\u003cx\u003e","b":[1,true,null]}""")]
    [InlineData("{% for x in items %}{{ loop.index }}{% if loop.first %}F{% elif loop.last %}L{% else %}-{% endif %}{% endfor %}", """{"items": [1, 2, 3]}""", "1F2-3L")]
    [InlineData("{% set greeting = 'Hi ' ~ name %}{{ greeting }}", """{"name": "Ada"}""", "Hi Ada")]
    [InlineData("{% macro tag(name, value='v') %}<{{ name }}>{{ value }}{% endmacro %}{{ tag('a') }}{{ tag('b', value=2) }}", "{}", "<a>v<b>2")]
    [InlineData("{{ 'b' in ['a', 'b'] }} {{ 'x' in 'xyz' }} {{ 'k' in {'k': 1} }} {{ 1 not in [1] }}", "{}", "true true true false")]
    [InlineData("{{ 1 < 2 and 2 >= 2 and 'a' != 'b' and [1] == [1] }}", "{}", "true")]
    [InlineData("a\n  {%- if true %}  b  {% endif -%}\n c", "{}", "a  b  c")]
    [InlineData("{{ [1, 2] + [3] }} {{ (1, 2) }} {{ {'k': 'v'} }} {{ 7 // 2 }} {{ 7 / 2 }} {{ 2 ** 10 }}", "{}", """[1, 2, 3] [1, 2] {"k": "v"} 3 3.5 1024""")]
    [InlineData("{{ user.name }} {{ user['age'] }} {{ list[-1] }}", """{"user": {"name": "Ada", "age": 36}, "list": [1, 2]}""", "Ada 36 2")]
    public void Render_CommonFeatures_ProduceMiniJinjaOutput(string template, string context, string expected)
    {
        var set = TemplateSet.Compile([new TemplateSource("t", template)], null);

        set.Render("t", Json(context)).Should().Be(expected);
    }

    [Theory]
    [InlineData("Hello {{ name }}", 1)]
    [InlineData("line one\n{% if flag %}yes{% endif %}", 2)]
    [InlineData("{% for x in items %}{{ x }}{% endfor %}", 1)]
    [InlineData("{{ user.name }}", 1)]
    [InlineData("\n\n{{ name ~ '!' }}", 3)]
    [InlineData("{{ name | upper }}", 1)]
    public void Render_UndefinedVariableUnderStrictUndefined_ThrowsWithTemplateAndLine(string template, int line)
    {
        var set = TemplateSet.Compile([new TemplateSource("greeting", template)], null);

        var render = () => set.Render("greeting", Json("""{"other": 1}"""));

        var error = render.Should().Throw<TemplateRenderException>().Which;
        error.Kind.Should().Be(ErrorKind.UndefinedError);
        error.TemplateName.Should().Be("greeting");
        error.Line.Should().Be(line);
        error.Message.Should().Contain("undefined value").And.Contain($"greeting:{line}");
    }

    [Theory]
    [InlineData("{{ name is defined }}|{{ name is undefined }}", "false|true")]
    [InlineData("{% if name is defined %}{{ name }}{% else %}anonymous{% endif %}", "anonymous")]
    [InlineData("{{ name | default('anonymous') }}", "anonymous")]
    [InlineData("{{ user.missing is defined }}", "false")]
    public void Render_UndefinedVariableTestedOrDefaulted_DoesNotFailUnderStrictUndefined(string template, string expected)
    {
        var set = TemplateSet.Compile([new TemplateSource("t", template)], null);

        set.Render("t", Json("""{"user": {}}""")).Should().Be(expected);
    }

    [Fact]
    public void Render_NullContext_DefinesNoVariables()
    {
        var set = TemplateSet.Compile([new TemplateSource("t", "static {{ x }}")], null);

        var render = () => set.Render("t", null);

        render.Should().Throw<TemplateRenderException>().Which.Kind.Should().Be(ErrorKind.UndefinedError);
    }

    [Fact]
    public void Render_ExtendsAndIncludeThroughResolver_RendersInheritedLayout()
    {
        var files = new Dictionary<string, string>
        {
            ["layouts/base.txt"] = "[{% block title %}Default{% endblock %}] {% include 'parts/footer.txt' %}",
            ["parts/footer.txt"] = "-- {{ signature }}",
        };
        var requested = new List<string>();
        string? Resolve(string name)
        {
            requested.Add(name);
            return files.GetValueOrDefault(name);
        }
        var child = new TemplateSource("system", "{% extends 'layouts/base.txt' %}{% block title %}{{ super() }} + {{ title }}{% endblock %}");

        var set = TemplateSet.Compile([child], Resolve);

        set.Render("system", Json("""{"title": "Mine", "signature": "T0"}""")).Should().Be("[Default + Mine] -- T0");
        requested.Should().BeEquivalentTo("layouts/base.txt", "parts/footer.txt");
        set.Contains("layouts/base.txt").Should().BeTrue();
        set.Contains("parts/footer.txt").Should().BeTrue();
        set.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void Render_ImportedMacroThroughResolver_CallsTheMacro()
    {
        string? Resolve(string name) =>
            name == "macros.txt" ? "{% macro bullet(text) %}* {{ text }}{% endmacro %}" : null;
        var set = TemplateSet.Compile(
            [new TemplateSource("user", "{% from 'macros.txt' import bullet %}{% for i in items %}{{ bullet(i) }}\n{% endfor %}")],
            Resolve);

        set.Render("user", Json("""{"items": ["a", "b"]}""")).Should().Be("* a\n* b\n");
    }

    [Fact]
    public void Render_IncludeTheResolverDoesNotHave_CompilesWithWarningAndFailsOnRender()
    {
        var set = TemplateSet.Compile([new TemplateSource("system", "Hi {% include 'missing.txt' %}")], _ => null);

        set.Warnings.Should().ContainSingle().Which.Should().Contain("missing.txt");
        var render = () => set.Render("system", Json("{}"));
        render.Should().Throw<TemplateRenderException>().WithMessage("*missing.txt*");
    }

    [Fact]
    public void Compile_DynamicIncludeWithResolver_IsRejected()
    {
        var compile = () => TemplateSet.Compile([new TemplateSource("system", "{% include name %}")], _ => "x");

        compile.Should().Throw<TemplateException>()
            .Which.Errors.Should().ContainSingle().Which.Should().Contain("template 'system', line 1").And.Contain("not a string literal");
    }

    [Fact]
    public void Compile_SeveralBrokenTemplates_ListsEveryErrorWithTemplateAndLine()
    {
        TemplateSource[] sources =
        [
            new("good", "Hello {{ name }}"),
            new("unclosed", "line 1\nline 2 {% if x %}never closed", "/config/unclosed.minijinja"),
            new("bad-expression", "{{ 1 + }}"),
            new("good", "again"),
        ];

        var compile = () => TemplateSet.Compile(sources, null);

        var errors = compile.Should().Throw<TemplateException>().Which.Errors;
        errors.Should().HaveCount(3);
        errors[0].Should().StartWith("template 'unclosed' (/config/unclosed.minijinja), line 2").And.Contain("syntax error");
        errors[1].Should().StartWith("template 'bad-expression', line 1").And.Contain("syntax error");
        errors[2].Should().Be("template 'good' is defined more than once");
    }

    [Theory]
    [InlineData("{{ a }}{% set b = 1 %}{{ b }}{% for x in items %}{{ x.y }}{{ loop.index }}{% endfor %}", "a,items")]
    [InlineData("{% macro m(p) %}{{ p }}{{ q }}{% endmacro %}{{ m(r) }}", "q,r")]
    [InlineData("{% if flag %}{{ user.name }}{% else %}{{ fallback | default('x') }}{% endif %}", "fallback,flag,user")]
    [InlineData("{% with v = w %}{{ v }}{% endwith %}{{ v }}", "v,w")]
    [InlineData("no variables here", "")]
    public void UndeclaredVariables_Template_ListsVariablesReadBeforeBeingSet(string template, string expected)
    {
        var set = TemplateSet.Compile([new TemplateSource("t", template)], null);

        set.UndeclaredVariables("t").Should().BeEquivalentTo(expected.Split(',', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void UndeclaredVariables_Nested_ReportsAttributePaths()
    {
        var set = TemplateSet.Compile([new TemplateSource("t", "{{ user.name }} {{ user.address.city }} {{ plain }}")], null);

        set.UndeclaredVariables("t", nested: true).Should().BeEquivalentTo("user.name", "user.address.city", "plain");
    }

    [Fact]
    public void UndeclaredVariables_UnknownTemplate_Throws()
    {
        var set = TemplateSet.Compile([new TemplateSource("t", "x")], null);

        set.Contains("other").Should().BeFalse();
        var act = () => set.UndeclaredVariables("other");
        act.Should().Throw<KeyNotFoundException>();
    }

    [Fact]
    public void Render_UnknownTemplate_ThrowsTemplateRenderException()
    {
        var set = TemplateSet.Compile([new TemplateSource("t", "x")], null);

        var render = () => set.Render("other", null);

        render.Should().Throw<TemplateRenderException>().Which.Kind.Should().Be(ErrorKind.TemplateNotFound);
    }

    public static TheoryData<string, string> EndlessRecursion => new()
    {
        { "macro calling itself", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}" },
        { "macro calling itself in a loop", "{% macro f(n) %}{% for i in [n] %}{{ f(i + 1) }}{% endfor %}{% endmacro %}{{ f(0) }}" },
        { "template including itself", "x{% include 'self' %}" },
        { "recursive loop over an endless list", "{% set l = [[0]] %}{% for x in [1] recursive %}{{ loop(l) }}{% endfor %}" },
    };

    [Theory]
    [MemberData(nameof(EndlessRecursion))]
    public void Render_EndlessRecursion_ThrowsRecursionLimitInsteadOfCrashing(string scenario, string template)
    {
        var set = TemplateSet.Compile([new TemplateSource("self", template)], null);

        var render = () => set.Render("self", Json("{}"));

        render.Should().Throw<TemplateRenderException>(scenario).WithMessage("*recursion limit exceeded*");
    }

    [Fact]
    public void Render_RecursiveLoopOverDeepData_ThrowsRecursionLimitInsteadOfCrashing()
    {
        const int depth = 5_000;
        var json = new StringBuilder();
        for (var i = 0; i < depth; i++)
        {
            json.Append("""[{"children": """);
        }
        json.Append("[]");
        for (var i = 0; i < depth; i++)
        {
            json.Append("}]");
        }
        using var document = JsonDocument.Parse($$"""{"tree": {{json}}}""", new JsonDocumentOptions { MaxDepth = 3 * depth });
        var set = TemplateSet.Compile(
            [new TemplateSource("t", "{% for node in tree recursive %}<{{ loop(node.children) }}>{% endfor %}")], null);

        var render = () => set.Render("t", document.RootElement);

        render.Should().Throw<TemplateRenderException>().WithMessage("*recursion limit exceeded*");
    }

    [Fact]
    public void Render_RecursiveLoopWithinTheLimit_RendersEveryLevel()
    {
        var set = TemplateSet.Compile(
            [new TemplateSource("t", "{% for node in tree recursive %}{{ node.name }}{{ loop.depth }}({{ loop(node.children) }}){% endfor %}")], null);

        var output = set.Render("t", Json("""{"tree": [{"name": "a", "children": [{"name": "b", "children": []}]}, {"name": "c", "children": []}]}"""));

        output.Should().Be("a1(b2())c1()");
    }

    [Theory]
    [InlineData("{{ ", "(", ")", " }}")]
    [InlineData("{{ ", "[", "]", " }}")]
    [InlineData("", "{% if true %}", "{% endif %}", "")]
    public void Compile_DeeplyNestedSyntax_ReportsAnErrorInsteadOfCrashing(string prefix, string open, string close, string suffix)
    {
        const int depth = 20_000;
        var text = prefix + string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth)) + suffix;

        var compile = () => TemplateSet.Compile([new TemplateSource("deep", text)], null);

        compile.Should().Throw<TemplateException>().Which.Errors.Should().ContainSingle().Which.Should().Contain("template 'deep'");
    }

    [Theory]
    [InlineData(" ~ 1")]
    [InlineData(" + 1")]
    [InlineData(" | default(1)")]
    [InlineData(".a")]
    [InlineData("[0]")]
    [InlineData(" is defined and x")]
    public void Compile_LongChainOfOperators_ReportsAnErrorInsteadOfCrashing(string link)
    {
        // A chain parses in a loop into a left-nested tree that analysis and rendering walk recursively.
        var text = "{{ x" + string.Concat(Enumerable.Repeat(link, 20_000)) + " }}";

        var compile = () => TemplateSet.Compile([new TemplateSource("long", text)], null);

        compile.Should().Throw<TemplateException>()
            .Which.Errors.Should().ContainSingle().Which.Should().Contain("template 'long'").And.Contain("nests too deeply");
    }

    [Theory]
    [InlineData(400, "399")]
    [InlineData(20_000, null)]
    public void Compile_LongElifChain_RendersOrReportsAnErrorInsteadOfCrashing(int branches, string? expected)
    {
        // Each elif is an if nested in the previous one's else branch.
        var text = "{% if x == 0 %}0" + string.Concat(Enumerable.Range(1, branches - 1).Select(i => $"{{% elif x == {i} %}}{i}")) + "{% endif %}";

        var render = () => TemplateSet.Compile([new TemplateSource("elif", text)], null).Render("elif", Json("""{"x": 399}"""));

        if (expected is null)
        {
            render.Should().Throw<TemplateException>().Which.Errors.Should().ContainSingle().Which.Should().Contain("template 'elif'");
        }
        else
        {
            render().Should().Be(expected);
        }
    }

    [Theory]
    [InlineData("{{ ns.x }}", null)]
    [InlineData("{{ ns.x | tojson }}", null)]
    [InlineData("{{ ns.x == ns.y }}", null)]
    [InlineData("{{ [ns.x, ns.y] | sort }}", null)]
    [InlineData("{{ ns.x | length }}", "1")]
    public void Render_ValueNestedDeeperThanTheStack_ThrowsInsteadOfCrashing(string use, string? expected)
    {
        // A namespace lets a loop build lists nested 100,000 deep; printing, serialising and comparing them recurse.
        var set = TemplateSet.Compile(
            [new TemplateSource("t", "{% set ns = namespace(x=[], y=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% set ns.y = [ns.y] %}{% endfor %}" + use)],
            null);

        var render = () => set.Render("t", Json("{}"));

        if (expected is null)
        {
            render.Should().Throw<TemplateRenderException>().WithMessage("*recursion limit exceeded*");
        }
        else
        {
            render().Should().Be(expected);
        }
    }

    [Fact]
    public void Render_ChainJustBelowTheDepthLimit_Renders()
    {
        var text = "{{ x" + string.Concat(Enumerable.Repeat(" + 1", Expr.MaxDepth - 1)) + " }}";
        var set = TemplateSet.Compile([new TemplateSource("long", text)], null);

        set.Render("long", Json("""{"x": 1}""")).Should().Be(Expr.MaxDepth.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Render_MacroRecursingFromTheDeepestExpression_ThrowsRecursionLimitInsteadOfCrashing()
    {
        // Every level of the recursion sits under a chain of almost MaxDepth operators: the most stack per level.
        var chain = string.Concat(Enumerable.Repeat(" ~ 1", Expr.MaxDepth - 5));
        var set = TemplateSet.Compile([new TemplateSource("t", "{% macro f(n) %}{{ f(n + 1)" + chain + " }}{% endmacro %}{{ f(0) }}")], null);

        var render = () => set.Render("t", Json("{}"));

        render.Should().Throw<TemplateRenderException>().WithMessage("*recursion limit exceeded*");
    }

    private static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
