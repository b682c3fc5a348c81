using TensorZero.Proxy.Gateway;
using Microsoft.Extensions.Configuration;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Configuration;

/// <summary>Globs for <c>--config-file</c>, the merge of several files, and paths relative to the file that names them.</summary>
public sealed class ConfigFilesTests : IDisposable
{
    private const string Model = """
        [models.m]
        routing = ["p"]
        [models.m.providers.p]
        type = "dummy"
        model_name = "x"
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("tensorzero.*.toml", "tensorzero.functions.toml,tensorzero.models.toml")]
    [InlineData("*.toml", "cache-clickhouse.a.toml,tensorzero.functions.toml,tensorzero.models.toml,tensorzero.toml")]
    [InlineData("**/*.toml", "cache-clickhouse.a.toml,sub/deeper/tensorzero.z.toml,sub/tensorzero.x.toml,tensorzero.functions.toml,tensorzero.models.toml,tensorzero.toml")]
    [InlineData("**/tensorzero.?.toml", "sub/deeper/tensorzero.z.toml,sub/tensorzero.x.toml")]
    [InlineData("{tensorzero,cache-clickhouse}.*.toml", "cache-clickhouse.a.toml,tensorzero.functions.toml,tensorzero.models.toml")]
    [InlineData("tensorzero.{functions,{models,nope}}.toml", "tensorzero.functions.toml,tensorzero.models.toml")]
    [InlineData("[ct]*.toml", "cache-clickhouse.a.toml,tensorzero.functions.toml,tensorzero.models.toml,tensorzero.toml")]
    [InlineData("[!c]*.*.toml", "tensorzero.functions.toml,tensorzero.models.toml")]
    [InlineData("sub/*.toml", "sub/tensorzero.x.toml")]
    [InlineData("sub/**", "sub/deeper/tensorzero.z.toml,sub/notes.txt,sub/tensorzero.x.toml")]
    public void Expand_Glob_MatchesLikeTensorZero(string glob, string expected)
    {
        foreach (var file in (string[])["tensorzero.toml", "tensorzero.models.toml", "tensorzero.functions.toml", "cache-clickhouse.a.toml",
            "readme.md", "sub/tensorzero.x.toml", "sub/notes.txt", "sub/deeper/tensorzero.z.toml"])
        {
            _dir.Write(file, "");
        }

        var matches = ConfigFiles.Expand(_dir.PathOf(glob));

        string.Join(",", matches.Select(m => Path.GetRelativePath(_dir.Root, m).Replace('\\', '/'))).Should().Be(expected);
    }

    [Theory]
    [InlineData("missing/*.toml")]
    [InlineData("tensorzero.*.json")]
    public void Expand_NoMatch_IsAnErrorNamingTheGlob(string glob)
    {
        _dir.Write("tensorzero.toml", "");

        var act = () => ConfigFiles.Expand(_dir.PathOf(glob));

        act.Should().Throw<ConfigException>().Which.Errors.Should().ContainSingle()
            .Which.Should().Contain(glob).And.Contain("no file matches the configuration glob");
    }

    [Theory]
    [InlineData("a{b.toml", "unclosed")]
    public void Expand_MalformedGlob_IsAnError(string glob, string expected)
    {
        var act = () => ConfigFiles.Expand(_dir.PathOf(glob));

        act.Should().Throw<ConfigException>().Which.Message.Should().Contain(expected);
    }

    [Fact]
    public void LoadFile_Glob_MergesTablesAcrossFilesAndKeepsEveryPath()
    {
        _dir.Write("tensorzero.models.toml", Model);
        _dir.Write("tensorzero.functions.toml", """
            [functions.f]
            type = "chat"
            [functions.f.variants.a]
            type = "chat_completion"
            model = "m"
            """);
        // The same function continues in a third file: tables merge key by key.
        _dir.Write("tensorzero.variants.toml", """
            [functions.f.variants.b]
            type = "chat_completion"
            model = "m"
            """);

        var config = ConfigLoader.LoadFile(_dir.PathOf("tensorzero.*.toml"));

        config.Models.Keys.Should().Equal("m");
        config.Functions["f"].Variants.Keys.Should().BeEquivalentTo("a", "b");
        config.SourcePaths.Select(Path.GetFileName).Should().Equal("tensorzero.functions.toml", "tensorzero.models.toml", "tensorzero.variants.toml");
        config.SourcePath.Should().Be(config.SourcePaths[0]);
    }

    public static TheoryData<string, string, string> Duplicates => new()
    {
        { "[gateway]\ndebug = true\n", "[gateway]\ndebug = false\n",
            "gateway.debug: is defined in both tensorzero.a.toml (line 2) and tensorzero.b.toml (line 2); each key may be defined in only one file of a glob" },
        { "[models.m.providers.p]\nmodel_name = \"x\"\n", "[models.m.providers.p]\nmodel_name = \"y\"\n",
            "models.m.providers.p.model_name: is defined in both tensorzero.a.toml (line 2) and tensorzero.b.toml (line 2)" },
        { "[models.m]\nrouting = [\"p\"]\n", "[models.m.routing]\nx = 1\n",
            "models.m.routing: is a table in tensorzero.b.toml (line 1) but a value in tensorzero.a.toml (line 2)" },
        { "[[rate_limiting.rules]]\nalways = true\n", "[[rate_limiting.rules]]\nalways = true\n",
            "rate_limiting.rules: is defined in both tensorzero.a.toml (line 1) and tensorzero.b.toml (line 1)" },
    };

    [Theory]
    [MemberData(nameof(Duplicates))]
    public void LoadFile_KeyDefinedInTwoFiles_IsAnErrorNamingBothFilesAndTheKeyPath(string first, string second, string expected)
    {
        _dir.Write("tensorzero.a.toml", first);
        _dir.Write("tensorzero.b.toml", second);

        var act = () => ConfigLoader.LoadFile(_dir.PathOf("tensorzero.*.toml"));

        act.Should().Throw<ConfigException>().Which.Errors.Should().ContainSingle().Which.Should().StartWith(expected);
    }

    [Fact]
    public void LoadFile_RelativePaths_ResolveAgainstTheFileThatDeclaresThem()
    {
        // Each file names a file beside itself; the same relative name exists in both folders with different contents.
        _dir.Write("one/tensorzero.functions.toml", """
            [functions.f]
            type = "chat"
            system_schema = "schema.json"
            [functions.f.variants.v]
            type = "chat_completion"
            model = "dummy::x"
            system_template = "system.minijinja"
            """);
        _dir.Write("one/schema.json", """{"type": "object", "title": "one"}""");
        _dir.Write("one/system.minijinja", "from one");
        _dir.Write("two/deeper/tensorzero.more.toml", """
            [functions.f.variants.w]
            type = "chat_completion"
            model = "dummy::x"
            system_template = "system.minijinja"
            [tools.t]
            description = "d"
            parameters = "../schema.json"
            [gateway]
            template_filesystem_access.base_path = "."
            """);
        _dir.Write("two/deeper/system.minijinja", "from two");
        _dir.Write("two/schema.json", """{"type": "object", "title": "two"}""");

        var config = ConfigLoader.LoadFile(_dir.PathOf("**/tensorzero.*.toml"));

        var function = config.Functions["f"];
        function.SystemSchema!.Path.Should().Be(_dir.PathOf("one/schema.json"));
        function.SystemSchema.Schema.GetProperty("title").GetString().Should().Be("one");
        function.Variants["v"].SystemTemplate!.Text.Should().Be("from one");
        function.Variants["w"].SystemTemplate!.Text.Should().Be("from two");
        function.Variants["w"].SystemTemplate!.Path.Should().Be(_dir.PathOf("two/deeper/system.minijinja"));
        config.Tools["t"].Parameters.Schema.GetProperty("title").GetString().Should().Be("two");
        config.Gateway.TemplateBaseDirectory.Should().Be(_dir.PathOf("two/deeper"));
    }

    [Fact]
    public void LoadFile_SingleFile_ResolvesPathsBesideIt()
    {
        var file = _dir.Write("conf/tensorzero.toml", """
            [functions.f]
            type = "json"
            output_schema = "out.json"
            [functions.f.variants.v]
            type = "chat_completion"
            model = "dummy::x"
            json_mode = "strict"
            """);
        _dir.Write("conf/out.json", "true");

        var config = ConfigLoader.LoadFile(file);

        config.Functions["f"].OutputSchema!.Path.Should().Be(_dir.PathOf("conf/out.json"));
        config.SourcePaths.Should().Equal(file);
    }

    [Fact]
    public void LoadFile_ErrorInOneOfSeveralFiles_NamesItsFileAndLine()
    {
        _dir.Write("tensorzero.a.toml", Model);
        _dir.Write("tensorzero.b.toml", "[gateway]\n\nbogus = 1\n");

        var act = () => ConfigLoader.LoadFile(_dir.PathOf("tensorzero.*.toml"));

        act.Should().Throw<ConfigException>().Which.Errors.Should().ContainSingle()
            .Which.Should().StartWith("gateway.bogus (line 3 of tensorzero.b.toml): unknown key");
    }

    [Fact]
    public void LoadFile_TomlErrorsInSeveralFiles_ReportsEachWithItsFile()
    {
        var a = _dir.Write("tensorzero.a.toml", "x = \n");
        var b = _dir.Write("tensorzero.b.toml", "[[\n");

        var act = () => ConfigLoader.LoadFile(_dir.PathOf("tensorzero.*.toml"));

        var errors = act.Should().Throw<ConfigException>().Which.Errors;
        errors.Should().HaveCount(2);
        errors[0].Should().StartWith(a + ":1:");
        errors[1].Should().StartWith(b + ":1:");
    }

    [Fact]
    public void LoadFile_MissingPlainFile_IsAnError()
    {
        var act = () => ConfigLoader.LoadFile(_dir.PathOf("nope.toml"));

        act.Should().Throw<ConfigException>().Which.Errors.Should().ContainSingle().Which.Should().Contain("cannot read the configuration file");
    }

    [Theory]
    [InlineData("config/tensorzero.*.toml")]
    [InlineData("/abs/**/tensorzero.toml")]
    public void ResolveConfigPath_Glob_PassesThroughAbsolute(string glob)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["config-file"] = glob }).Build();

        var resolved = TensorZeroConfigFile.ResolvePath(configuration, null, _ => null);

        resolved.Should().Be(Path.GetFullPath(glob));
    }

    [Fact]
    public void ResolveConfigPath_GlobFromEnvironment_IsUsed()
    {
        var configuration = new ConfigurationBuilder().Build();

        var resolved = TensorZeroConfigFile.ResolvePath(configuration, null, name => name == "TENSORZERO_CONFIG_FILE" ? "conf/*.toml" : null);

        resolved.Should().Be(Path.GetFullPath("conf/*.toml"));
    }

    [Fact]
    public void CheckConfig_Glob_ReportsTheNumberOfFiles()
    {
        _dir.Write("tensorzero.a.toml", Model);
        _dir.Write("tensorzero.b.toml", "[gateway]\ndebug = true\n");
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = GatewayHost.CheckConfig(["--check-config", "--config-file", _dir.PathOf("tensorzero.*.toml")], output, error, _ => null);

        error.ToString().Should().BeEmpty();
        exit.Should().Be(0);
        output.ToString().Should().Contain("valid (2 files, 1 model(s), 0 function(s))");
    }
}
