using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Configuration;

/// <summary>What a load records for the reloader: the files and folders it read, and whether they changed since.</summary>
public sealed class ConfigInputsTests : IDisposable
{
    private const string Model = """
        [models.m]
        routing = ["p"]

        [models.m.providers.p]
        type = "openai"
        model_name = "x"
        api_base = "http://127.0.0.1:9/v1/"
        api_key_location = "none"

        """;

    private const string Function = """
        [functions.f]
        type = "chat"
        system_schema = "schemas/system.json"

        [functions.f.variants.v]
        type = "chat_completion"
        model = "m"
        system_template = "templates/system.minijinja"

        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteFunctionConfig()
    {
        _dir.Write("schemas/system.json", """{"type":"object","properties":{"name":{"type":"string"}}}""");
        _dir.Write("templates/system.minijinja", "You are {{ name }}.");
        return _dir.Write("tensorzero.toml", Model + Function);
    }

    [Fact]
    public void LoadFile_RecordsTheTomlTheTemplateAndTheSchema()
    {
        var path = WriteFunctionConfig();

        var config = ConfigLoader.LoadFile(path);

        config.Inputs.Files.Should().BeEquivalentTo([path, _dir.PathOf("schemas/system.json"), _dir.PathOf("templates/system.minijinja")]);
        config.Inputs.FindChange().Should().BeNull("nothing changed since the load");
    }

    [Fact]
    public void FindChange_TemplateRewrittenWithOtherText_NamesIt_SameTextIsNoChange()
    {
        var config = ConfigLoader.LoadFile(WriteFunctionConfig());

        _dir.Write("templates/system.minijinja", "You are {{ name }}.");
        config.Inputs.FindChange().Should().BeNull("the content is what the load read");

        _dir.Write("templates/system.minijinja", "You are {{ name }}!");
        config.Inputs.FindChange().Should().Contain("system.minijinja");
    }

    [Fact]
    public void LoadFile_MissingTemplate_FailsButRecordsIt_SoCreatingItIsAChange()
    {
        _dir.Write("schemas/system.json", """{"type":"object","properties":{"name":{"type":"string"}}}""");
        var path = _dir.Write("tensorzero.toml", Model + Function);
        var inputs = new ConfigInputs();

        FluentActions.Invoking(() => ConfigLoader.LoadFile(path, inputs)).Should().Throw<ConfigException>();

        inputs.Files.Should().Contain(_dir.PathOf("templates/system.minijinja"));
        inputs.FindChange().Should().BeNull();
        _dir.Write("templates/system.minijinja", "You are {{ name }}.");
        inputs.FindChange().Should().Contain("system.minijinja");
    }

    [Fact]
    public void FindChange_GlobGainsAFile_IsAChange()
    {
        _dir.Write("config/a.toml", Model);
        var config = ConfigLoader.LoadFile(_dir.PathOf("config/*.toml"));
        config.Inputs.Glob.Should().Be(_dir.PathOf("config/*.toml"));

        _dir.Write("config/b.toml", "[metrics.m]\ntype = \"boolean\"\nlevel = \"inference\"\noptimize = \"max\"\n");

        config.Inputs.FindChange().Should().Contain("matching");
    }

    [Fact]
    public void FindChange_FileAddedUnderTheTemplateIncludeFolder_IsAChange()
    {
        _dir.Write("includes/base.minijinja", "base");
        var path = _dir.Write("tensorzero.toml", "[gateway.template_filesystem_access]\nbase_path = \"includes\"\n\n" + Model);
        var config = ConfigLoader.LoadFile(path);
        config.Inputs.Directories.Should().Equal(_dir.PathOf("includes"));

        _dir.Write("includes/nested/other.minijinja", "other");

        config.Inputs.FindChange().Should().Contain("includes");
    }

    [Fact]
    public void Build_KeyFileOfARoutedProvider_IsAnInput_RotatingItIsAChange()
    {
        var key = _dir.Write("key.txt", "sk-one\n");
        var path = _dir.Write("tensorzero.toml", Model.Replace("api_key_location = \"none\"", $"api_key_location = \"path::{key}\"", StringComparison.Ordinal));

        var runtime = GatewayRuntime.Build(ConfigLoader.LoadFile(path), _ => null);

        runtime.Inputs.Files.Should().Contain(key);
        runtime.Inputs.FindChange().Should().BeNull();
        _dir.Write("key.txt", "sk-two\n");
        runtime.Inputs.FindChange().Should().Contain("key.txt");
    }

    [Theory]
    [InlineData("tensorzero.toml", true)]
    [InlineData("templates/system.minijinja", true)]
    [InlineData("templates", true)] // a folder on the way to an input (created or moved)
    [InlineData("includes/any/deep.minijinja", true)] // under the include folder
    [InlineData("includes", true)]
    [InlineData("conf.d/extra.toml", true)] // matches the glob
    [InlineData("conf.d/extra.json", false)]
    [InlineData("..data", true)] // Kubernetes' atomic writer swaps mounted files through this link
    [InlineData("other.toml", false)]
    [InlineData("templates/other.minijinja", false)]
    [InlineData("data/queue/segment-1", false)]
    public void IsRelevant_Table(string relativePath, bool relevant)
    {
        var inputs = new ConfigInputs();
        inputs.AddFile(_dir.PathOf("tensorzero.toml"), "x"u8);
        inputs.AddMissingFile(_dir.PathOf("templates/system.minijinja"));
        inputs.AddDirectory(_dir.PathOf("includes"));
        inputs.SetGlob(_dir.PathOf("conf.d/*.toml"), []);

        inputs.IsRelevant(_dir.PathOf(relativePath)).Should().Be(relevant);
    }

    [Fact]
    public void WatchTargets_FilesByTheirFolder_IncludeFolderAndRecursiveGlobRootWithSubfolders_MissingFolderThroughItsParent()
    {
        Directory.CreateDirectory(_dir.PathOf("includes"));
        Directory.CreateDirectory(_dir.PathOf("deep"));
        var inputs = new ConfigInputs();
        inputs.AddFile(_dir.PathOf("tensorzero.toml"), "x"u8);
        inputs.AddMissingFile(_dir.PathOf("not-yet/created/t.minijinja"));
        inputs.AddDirectory(_dir.PathOf("includes"));
        inputs.SetGlob(_dir.PathOf("deep/**/*.toml"), []);

        inputs.WatchTargets().Should().BeEquivalentTo(new Dictionary<string, bool>
        {
            [_dir.Root] = false,
            [_dir.PathOf("includes")] = true,
            [_dir.PathOf("deep")] = true,
        });
    }

    [Fact]
    public void WatchTargets_OneLevelGlob_WatchesItsFolderOnly()
    {
        Directory.CreateDirectory(_dir.PathOf("config"));
        var inputs = new ConfigInputs();
        inputs.SetGlob(_dir.PathOf("config/tensorzero.*.toml"), []);

        inputs.WatchTargets().Should().BeEquivalentTo(new Dictionary<string, bool> { [_dir.PathOf("config")] = false });
    }
}
