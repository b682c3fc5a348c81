using TensorZero.Proxy.Gateway;
using System.Security.Cryptography;
using System.Text.Json;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Routing;
using TensorZero.Proxy.Tests.TestSupport;
using Xunit.Abstractions;

namespace TensorZero.Proxy.Tests.Compat;

/// <summary>
/// Every public TensorZero config (TensorZeroConfigs/, copied from TensorZero's repository) loaded the way
/// <c>--check-config</c> does: <see cref="ConfigLoader.LoadFile"/>, then <see cref="GatewayRuntime.Build"/> with
/// every credential the corpus names set. The configs listed in EXPECTED_FAILURES.md must fail with the key path
/// the list states; every other config must load.
/// </summary>
public sealed class TensorZeroConfigCorpusTests(ITestOutputHelper output)
{
    /// <summary>The share of the corpus that must load (issue 17's acceptance).</summary>
    private const double RequiredShare = 0.9;

    private static readonly string CorpusRoot = Path.Combine(RepoPaths.Root, "tests", "TensorZero.Proxy.Tests", "Compat", "TensorZeroConfigs");

    private static readonly Lazy<IReadOnlyList<string>> LazyRows = new(ReadRows);

    private static readonly Lazy<IReadOnlyDictionary<string, ExpectedFailure>> LazyExpectedFailures = new(ReadExpectedFailures);

    // GCP_VERTEX_CREDENTIALS_PATH names a service-account file: a well-formed one with a fresh key, in the temp folder.
    private static readonly Lazy<string> GcpCredentialsFile = new(() =>
    {
        using var rsa = RSA.Create(2048);
        var path = Path.Combine(Path.GetTempPath(), $"tzp-compat-gcp-{Environment.ProcessId}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["project_id"] = "dummy-project",
            ["private_key_id"] = "0000000000000000000000000000000000000000",
            ["private_key"] = rsa.ExportPkcs8PrivateKeyPem() + "\n",
            ["client_email"] = "dummy@dummy-project.iam.gserviceaccount.com",
            ["client_id"] = "000000000000000000000",
            ["token_uri"] = "https://oauth2.googleapis.com/token",
        }));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return path;
    });

    // Dummy values for every credential and endpoint variable the corpus reads: the provider types' default
    // api_key_location (TensorZero's config/provider_types.rs and ours) and each explicit `env::` in the corpus.
    private static readonly Lazy<IReadOnlyDictionary<string, string>> LazyEnvironment = new(() => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["OPENAI_API_KEY"] = "sk-dummy",
        ["ANTHROPIC_API_KEY"] = "sk-ant-dummy",
        ["AZURE_API_KEY"] = "azure-dummy",
        ["AZURE_OPENAI_API_KEY"] = "azure-dummy",
        ["AZURE_API_BASE"] = "https://example.openai.azure.com",
        ["AZURE_OPENAI_ENDPOINT"] = "https://example.openai.azure.com",
        ["DEEPSEEK_API_KEY"] = "deepseek-dummy",
        ["FIREWORKS_API_KEY"] = "fireworks-dummy",
        ["GCP_VERTEX_CREDENTIALS_PATH"] = GcpCredentialsFile.Value,
        ["GOOGLE_AI_STUDIO_API_KEY"] = "google-dummy",
        ["GROQ_API_KEY"] = "groq-dummy",
        ["HYPERBOLIC_API_KEY"] = "hyperbolic-dummy",
        ["MISTRAL_API_KEY"] = "mistral-dummy",
        ["OPENROUTER_API_KEY"] = "openrouter-dummy",
        ["SGLANG_API_KEY"] = "sglang-dummy",
        ["TGI_API_KEY"] = "tgi-dummy",
        ["TOGETHER_API_KEY"] = "together-dummy",
        ["VLLM_API_KEY"] = "vllm-dummy",
        ["XAI_API_KEY"] = "xai-dummy",
        ["VOYAGE_API_KEY"] = "voyage-dummy",
        ["TENSORZERO_RELAY_API_KEY"] = "sk-t0-dummy",
        ["AWS_ACCESS_KEY_ID"] = "AKIADUMMYDUMMYDUMMY0",
        ["AWS_SECRET_ACCESS_KEY"] = "dummy-secret-access-key",
        ["AWS_REGION"] = "us-east-1",
        ["AWS_DEFAULT_REGION"] = "us-east-1",
        ["TENSORZERO_CLICKHOUSE_URL"] = "http://chuser:chpassword@127.0.0.1:8123/tensorzero",
        ["TENSORZERO_POSTGRES_URL"] = "postgres://postgres:postgres@127.0.0.1:5432/tensorzero",
        ["TENSORZERO_VALKEY_URL"] = "redis://127.0.0.1:6379",
    });

    /// <summary>One row per line of CONFIGS.txt (a file, or the glob of a multi-file config).</summary>
    public static TheoryData<string> Configs()
    {
        var data = new TheoryData<string>();
        foreach (var row in LazyRows.Value)
        {
            data.Add(row);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Load_CorpusConfig_LoadsUnlessListedAsExpectedFailure(string config)
    {
        var errors = Load(config);
        foreach (var error in errors)
        {
            output.WriteLine(error);
        }

        if (LazyExpectedFailures.Value.TryGetValue(config, out var expected))
        {
            errors.Should().NotBeEmpty($"EXPECTED_FAILURES.md lists {config} ({expected.Why}); it loads now, so remove its line");
            errors.Should().Contain(e => e.Contains(expected.ErrorContains, StringComparison.Ordinal),
                $"EXPECTED_FAILURES.md says {config} fails at '{expected.ErrorContains}' ({expected.Why}); update the line if it now fails elsewhere");
        }
        else
        {
            errors.Should().BeEmpty($"{config} is not in EXPECTED_FAILURES.md");
        }
    }

    [Fact]
    public void Load_WholeCorpus_AtLeastNinetyPercentLoad()
    {
        var rows = LazyRows.Value;
        var failed = rows.Where(r => Load(r).Count > 0).ToList();
        var loaded = rows.Count - failed.Count;

        output.WriteLine($"{loaded} of {rows.Count} load");
        foreach (var row in failed)
        {
            output.WriteLine("  fails: " + row);
        }
        loaded.Should().BeGreaterThanOrEqualTo((int)Math.Ceiling(RequiredShare * rows.Count), $"{RequiredShare:P0} of the corpus must load");
    }

    [Fact]
    public void ExpectedFailures_EveryEntry_NamesACorpusRow()
    {
        var rows = LazyRows.Value.ToHashSet(StringComparer.Ordinal);

        LazyExpectedFailures.Value.Keys.Where(k => !rows.Contains(k)).Should().BeEmpty("every EXPECTED_FAILURES.md entry must name a row of CONFIGS.txt");
    }

    [Fact]
    public void Corpus_EveryRow_NamesExistingFiles()
    {
        var rows = LazyRows.Value;

        rows.Should().HaveCountGreaterThan(50, "the corpus holds every config of TensorZero's repository");
        foreach (var row in rows)
        {
            if (!row.Contains('*', StringComparison.Ordinal))
            {
                File.Exists(Path.Combine(CorpusRoot, row)).Should().BeTrue($"CONFIGS.txt names {row}");
            }
            else
            {
                var folder = Path.Combine(CorpusRoot, row[..row.IndexOf('*', StringComparison.Ordinal)]);
                Directory.EnumerateFiles(Path.GetDirectoryName(folder)!, "*.toml", SearchOption.AllDirectories).Should().NotBeEmpty($"CONFIGS.txt names {row}");
            }
        }
    }

    /// <summary>
    /// What <c>--check-config</c> does (GatewayHost.CheckConfig): load the file (or glob), then build the runtime,
    /// which resolves credentials. Returns the configuration errors; anything else thrown is a loader bug and fails the test.
    /// </summary>
    private static IReadOnlyList<string> Load(string config)
    {
        try
        {
            var loaded = ConfigLoader.LoadFile(Path.Combine(CorpusRoot, config));
            GatewayRuntime.Build(loaded, name => LazyEnvironment.Value.GetValueOrDefault(name));
            return [];
        }
        catch (ConfigException ex)
        {
            // The corpus root is the same everywhere: errors read as repository paths.
            return [.. ex.Errors.Select(e => e.Replace(CorpusRoot + Path.DirectorySeparatorChar, "", StringComparison.Ordinal))];
        }
    }

    private static IReadOnlyList<string> ReadRows() =>
        [.. File.ReadAllLines(Path.Combine(CorpusRoot, "CONFIGS.txt"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))];

    /// <summary>
    /// EXPECTED_FAILURES.md: a Markdown table <c>| config | error contains | why |</c>; the config and the error
    /// text are in backticks. Lines outside the table are prose.
    /// </summary>
    private static IReadOnlyDictionary<string, ExpectedFailure> ReadExpectedFailures()
    {
        var result = new Dictionary<string, ExpectedFailure>(StringComparer.Ordinal);
        var lines = File.ReadAllLines(Path.Combine(CorpusRoot, "EXPECTED_FAILURES.md"));
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (!line.StartsWith('|') || line.StartsWith("| config", StringComparison.Ordinal) || line.StartsWith("|-", StringComparison.Ordinal) || line.StartsWith("| -", StringComparison.Ordinal))
            {
                continue;
            }
            var cells = line.Trim('|').Split(" | ");
            if (cells.Length != 3 || Unquote(cells[0]) is not { } config || Unquote(cells[1]) is not { } errorContains || cells[2].Trim().Length == 0)
            {
                throw new FormatException($"EXPECTED_FAILURES.md line {i + 1}: expected | `config` | `error text` | why |, got: {line}");
            }
            if (!result.TryAdd(config, new ExpectedFailure(errorContains, cells[2].Trim())))
            {
                throw new FormatException($"EXPECTED_FAILURES.md line {i + 1}: {config} is listed twice");
            }
        }
        return result;
    }

    private static string? Unquote(string cell)
    {
        cell = cell.Trim();
        return cell.Length > 2 && cell[0] == '`' && cell[^1] == '`' ? cell[1..^1] : null;
    }

    private sealed record ExpectedFailure(string ErrorContains, string Why);
}
