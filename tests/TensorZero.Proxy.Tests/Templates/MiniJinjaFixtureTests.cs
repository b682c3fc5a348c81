using System.Text.Json;
using System.Text.RegularExpressions;
using TensorZero.Proxy.Templates;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Templates;

/// <summary>
/// Runs MiniJinja's own template snapshot tests (minijinja/tests/inputs at tag 2.19.0, the version TensorZero uses;
/// Apache-2.0; see fixtures/README.md) against our engine, the way MiniJinja's <c>test_vm</c> does: every file in
/// <c>inputs/refs</c> is in the set under its file name, the input's JSON header is the context (lenient undefined
/// unless its <c>$settings</c> say <c>"undefined": "strict"</c>), <c>get_args</c> returns its arguments, and the
/// output gets a newline appended. MiniJinja's snapshots of errors print the error's Rust debug form; the copies keep
/// what is engine-independent: the kind and line of the reported error (<c>!!!ERROR!!! Kind line N</c>) or, for
/// templates that do not parse, <c>!!!SYNTAX ERROR!!! line N</c>.
/// </summary>
public sealed class MiniJinjaFixtureTests
{
    private static readonly string FixtureRoot =
        Path.Combine(RepoPaths.Root, "tests", "TensorZero.Proxy.Tests", "Templates", "fixtures", "minijinja");

    /// <summary>Fixtures whose feature the engine deliberately does not support, with the reason.</summary>
    private static readonly Dictionary<string, string> Skipped = new(StringComparer.Ordinal)
    {
        ["debug.txt"] = "prints MiniJinja's Rust Debug dump of its State and Environment, an implementation detail",
        ["literals.txt"] = "integer literals above i128::MAX (MiniJinja's u128 values); our integers are 128-bit signed",
        ["loop_break_one_shot_iter.txt"] = "needs the harness's one-shot iterator, a Rust-only value a JSON context cannot hold",
        ["loop_break_one_shot_iter_peek.txt"] = "needs the harness's one-shot iterator, a Rust-only value a JSON context cannot hold",
        ["err_repeat_true_iterator.txt"] = "needs the harness's one-shot iterator, a Rust-only value a JSON context cannot hold",
    };

    private static readonly Lazy<IReadOnlyList<TemplateSource>> Refs = new(() =>
        Directory.GetFiles(Path.Combine(FixtureRoot, "inputs", "refs"))
            .Where(f => f.EndsWith(".txt", StringComparison.Ordinal) || f.EndsWith(".html", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => new TemplateSource(Path.GetFileName(f), File.ReadAllText(f), f))
            .ToList());

    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(FixtureRoot, "inputs")).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(file);
            if (!Skipped.ContainsKey(name))
            {
                data.Add(name);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Render_MiniJinjaFixture_MatchesMiniJinjaSnapshot(string fixture)
    {
        // Insta, which stores MiniJinja's snapshots, compares them without leading and trailing line breaks; so do we.
        var expected = File.ReadAllText(ExpectedPath(fixture)).ReplaceLineEndings("\n").Trim('\n');

        var actual = Run(fixture).Trim('\n');

        actual.Should().Be(expected, "the fixture {0} should render as MiniJinja renders it", fixture);
    }

    [Fact]
    public void Fixtures_EveryInput_HasAnExpectedOutputAndSkipsNameRealInputs()
    {
        var inputs = Directory.GetFiles(Path.Combine(FixtureRoot, "inputs")).Select(Path.GetFileName).ToList();

        inputs.Should().HaveCountGreaterThan(100);
        inputs.Where(i => !File.Exists(ExpectedPath(i!))).Should().BeEmpty();
        Skipped.Keys.Should().BeSubsetOf(inputs);
    }

    // MiniJinja's harness registers get_args, which returns its arguments (keyword arguments as one trailing map).
    private static Value WithTestGlobals(JsonElement context)
    {
        var entries = new List<KeyValuePair<Value, Value>>();
        if (Value.FromJson(context).AsObject is MapValue map)
        {
            entries.AddRange(map.Pairs);
        }
        entries.Add(new(Value.FromString("get_args"),
            Value.FromObject(new FunctionValue("get_args", (_, args) => Value.FromList([.. args])))));
        return Value.FromObject(MapValue.Create(entries));
    }

    // Each snapshot has its input's file name (the extension matters: .html turns auto-escaping on).
    private static string ExpectedPath(string fixture) => Path.Combine(FixtureRoot, "expected", fixture);

    private static string Run(string fixture)
    {
        var contents = File.ReadAllText(Path.Combine(FixtureRoot, "inputs", fixture)).ReplaceLineEndings("\n");
        var split = contents.IndexOf("\n---\n", StringComparison.Ordinal);
        split.Should().BeGreaterThan(0, "a fixture starts with its JSON context and a --- line");
        using var header = JsonDocument.Parse(contents[..split]);
        var text = contents[(split + 5)..];
        var strict = header.RootElement.TryGetProperty("$settings", out var settings)
            && settings.TryGetProperty("undefined", out var undefined)
            && undefined.GetString() == "strict";
        var options = TemplateOptions.TensorZero with { StrictUndefined = strict, MissingTemplatesAsNotFound = true };

        TemplateSet set;
        try
        {
            set = TemplateSet.Compile([.. Refs.Value, new TemplateSource(fixture, text)], null, options);
        }
        catch (TemplateException e)
        {
            e.Errors.Should().ContainSingle();
            return $"!!!SYNTAX ERROR!!! line {Regex.Match(e.Errors[0], @"line (\d+)").Groups[1].Value}";
        }

        try
        {
            return set.Render(fixture, WithTestGlobals(header.RootElement)) + "\n";
        }
        catch (TemplateRenderException e)
        {
            return $"!!!ERROR!!! {e.Kind} line {e.Line}";
        }
    }
}
