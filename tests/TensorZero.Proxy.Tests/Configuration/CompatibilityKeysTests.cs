using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Configuration;

/// <summary>
/// The three classes of TensorZero keys: implemented (mapped), accepted with a warning (no effect here), and refused
/// as not supported yet where ignoring them would be unsafe.
/// </summary>
public sealed class CompatibilityKeysTests
{
    private const string Model = "[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\ntype = \"dummy\"\nmodel_name = \"x\"\n";

    public static TheoryData<string, string> AcceptedWithAWarning => new()
    {
        { "[gateway]\ndisable_pseudonymous_usage_analytics = true\n", "gateway.disable_pseudonymous_usage_analytics" },
        { "[gateway]\nunstable_error_json = true\n", "gateway.unstable_error_json" },
        { "[gateway]\nfetch_and_encode_input_files_before_inference = true\n", "gateway.fetch_and_encode_input_files_before_inference" },
        { "[gateway.export.otlp.traces]\nenabled = true\nformat = \"openinference\"\ninclude_content = true\nextra_headers = { x-a = \"1\" }\n", "gateway.export" },
        { "[gateway.observability]\nbackend = \"postgres\"\n", "gateway.observability.backend" },
        { "[gateway.observability]\ndisable_automatic_migrations = true\n", "gateway.observability.disable_automatic_migrations" },
        { "[gateway.observability]\nasync_writes = false\nbatch_writes = { enabled = true, flush_interval_ms = 100, max_rows = 10, write_queue_capacity = 5 }\n", "gateway.observability.batch_writes" },
        { "[gateway.metrics]\ntensorzero_inference_latency_overhead_seconds_buckets = [0.001, 0.01, 1]\n", "gateway.metrics" },
        { "[gateway.template_filesystem_access]\nenabled = true\n", "gateway.template_filesystem_access.enabled" },
        { "[gateway.relay]\napi_key_location = \"env::RELAY\"\n", "gateway.relay" },
        { "[postgres]\nconnection_pool_size = 10\nenabled = true\ninference_retention_days = 30\n", "postgres" },
        { "[clickhouse]\ndisable_automatic_migrations = true\n", "clickhouse.disable_automatic_migrations" },
        { "[autopilot]\ntool_whitelist = [\"a\"]\n", "autopilot" },
        { "[rate_limiting]\ndefault_cost = 0.5\nbackend = \"valkey\"\n", "rate_limiting.default_cost" },
        { "[evaluations.e]\ntype = \"inference\"\nfunction_name = \"f\"\n[evaluations.e.evaluators.exact]\ntype = \"exact_match\"\n", "evaluations" },
        { "[optimizers.o]\ntype = \"openai_sft\"\nmodel = \"gpt\"\n", "optimizers" },
        { "[models.n]\nrouting = [\"p\"]\nskip_relay = true\n[models.n.providers.p]\ntype = \"dummy\"\nmodel_name = \"x\"\n", "models.n.skip_relay" },
        { Model + "discard_unknown_chunks = true\n", "models.m.providers.p.discard_unknown_chunks" },
        { Model + "cost = [{ pointer = \"/usage/prompt_tokens\", cost_per_million = 1.0, required = true }]\n", "models.m.providers.p.cost" },
        { Model + "batch_cost = [{ pointer = \"/usage/prompt_tokens\", cost_per_unit = 0.5 }]\n", "models.m.providers.p.batch_cost" },
        { "[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\ntype = \"openai\"\nmodel_name = \"x\"\ninclude_encrypted_reasoning = true\n", "models.m.providers.p.include_encrypted_reasoning" },
        { "[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\ntype = \"openai\"\nmodel_name = \"x\"\nprovider_tools = [{ type = \"web_search\" }]\n", "models.m.providers.p.provider_tools" },
        { "[models.m]\nrouting = [\"p\"]\n[models.m.providers.p]\ntype = \"fireworks\"\nmodel_name = \"x\"\nparse_think_blocks = true\n", "models.m.providers.p.parse_think_blocks" },
        { "[models.m]\nrouting = [\"p\"]\nnamespace = \"mobile\"\n[models.m.providers.p]\ntype = \"dummy\"\nmodel_name = \"x\"\n", "models.m.namespace" },
        { "[provider_types.fireworks.sft]\naccount_id = \"a\"\n", "provider_types.fireworks.sft" },
        { "[provider_types.gcp_vertex_gemini.batch]\nstorage_type = \"cloud_storage\"\n", "provider_types.gcp_vertex_gemini.batch" },
        { "[functions.f]\ntype = \"chat\"\n[functions.f.variants.v]\ntype = \"chat_completion\"\nmodel = \"dummy::x\"\n[functions.f.evaluators.e]\ntype = \"exact_match\"\n", "functions.f.evaluators" },
    };

    [Theory]
    [MemberData(nameof(AcceptedWithAWarning))]
    public void Parse_CompatibilityKey_IsAcceptedWithAWarningNamingIt(string toml, string keyPath)
    {
        var config = ConfigLoader.Parse(toml);

        config.Warnings.Should().Contain(w => w.StartsWith(keyPath + ": accepted for compatibility; has no effect in TensorZero.Proxy", StringComparison.Ordinal));
    }

    public static TheoryData<string, string> RefusedAsNotSupportedYet => new()
    {
        { "[gateway.relay]\ngateway_url = \"http://edge:3000\"\n",
            "gateway.relay.gateway_url (line 2): relaying to another TensorZero gateway is not supported yet by TensorZero.Proxy; remove it" },
    };

    [Theory]
    [MemberData(nameof(RefusedAsNotSupportedYet))]
    public void Parse_UnsafeToIgnore_IsRefusedAsNotSupportedYet(string toml, string expected) => ShouldFail(toml, expected);

    public static TheoryData<string, string> WrongShapes => new()
    {
        { "[gateway]\nunstable_error_json = \"yes\"\n", "gateway.unstable_error_json (line 2): must be a boolean (got a string)" },
        { "[gateway.export.otlp.traces]\nformat = \"zipkin\"\n", "gateway.export.otlp.traces.format (line 2): unknown format 'zipkin'" },
        { "[gateway.export.otlp]\nmetrics = {}\n", "gateway.export.otlp.metrics (line 2): unknown key" },
        { "[gateway.observability]\nbackend = \"mysql\"\n", "gateway.observability.backend (line 2): unknown backend 'mysql'" },
        { "[gateway.observability]\nbatch_writes = { enabled = true }\n",
            "gateway.observability.batch_writes.enabled (line 2): batch writes and async writes cannot both be enabled" },
        { "[gateway.observability]\nasync_writes = false\nbatch_writes = { enabled = true, max_rows = 0 }\n", "gateway.observability.batch_writes.max_rows (line 3): must be between 1 and" },
        { "[gateway.observability]\nbatch_writes = { flush_interval_ms = 5 }\n", "gateway.observability.batch_writes: missing required key 'enabled'" },
        { "[gateway.metrics]\ntensorzero_inference_latency_overhead_seconds_buckets = [0.1, 0.01]\n",
            "gateway.metrics.tensorzero_inference_latency_overhead_seconds_buckets[1] (line 2): must be finite, non-negative numbers in strictly ascending order" },
        { "[gateway.auth]\ncache = { enabled = true }\n", "gateway.auth: missing required key 'enabled'" },
        { "[gateway.relay]\ngateway_url = \"not a url\"\n", "gateway.relay.gateway_url (line 2): 'not a url' is not an http(s) URL" },
        { "[gateway.cache]\nbackend = \"redis\"\n", "gateway.cache.backend (line 2): unknown cache backend 'redis'" },
        { "[gateway]\nglobal_outbound_http_timeout_ms = 0\n", "gateway.global_outbound_http_timeout_ms (line 2): must be a positive number of milliseconds" },
        { "[gateway.template_filesystem_access]\nbase_path = \"no/such/dir\"\n", "gateway.template_filesystem_access.base_path (line 2): 'no/such/dir'" },
        { "[gateway]\nenable_template_filesystem_access = true\n", "gateway.enable_template_filesystem_access (line 2): unknown key" },
        { "[postgres]\nconnection_pool_size = -1\n", "postgres.connection_pool_size (line 2): must be between 0 and" },
        { "[postgres]\npool = 1\n", "postgres.pool (line 2): unknown key" },
        { "[clickhouse]\ndisable_automatic_migrations = true\n[gateway.observability]\ndisable_automatic_migrations = true\n",
            "clickhouse.disable_automatic_migrations: is set in both [clickhouse] and [gateway.observability]" },
        { "[autopilot]\ntool_whitelist = [1]\n", "autopilot.tool_whitelist[0] (line 2): must be a string" },
        { "[rate_limiting]\ndefault_cost = -1\n", "rate_limiting.default_cost (line 2): must be a non-negative number of dollars" },
        { "[evaluations]\ne = 1\n", "evaluations.e (line 2): must be a table" },
        { "[object_storage]\ntype = \"gcs\"\n", "object_storage.type (line 2): unknown object storage type 'gcs'" },
        { "[object_storage]\ntype = \"filesystem\"\n", "object_storage: missing required key 'path'" },
        { "[object_storage]\ntype = \"s3_compatible\"\nendpoint = \"dynamic::x\"\n", "object_storage.endpoint (line 3): 'dynamic::x' is not an endpoint" },
        { "[object_storage]\ntype = \"disabled\"\npath = \"x\"\n", "object_storage.path (line 3): unknown key" },
        { "[mystery]\nx = 1\n", "mystery (line 1): unknown key" },
    };

    [Theory]
    [MemberData(nameof(WrongShapes))]
    public void Parse_DocumentedKeyOfTheWrongShape_IsAnError(string toml, string expected) => ShouldFail(toml, expected);

    [Fact]
    public void Parse_AuthDisabled_IsFine()
    {
        var config = ConfigLoader.Parse("[gateway.auth]\nenabled = false\n");

        config.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void Parse_GatewaySettings_MapsTheImplementedKeys()
    {
        using var dir = new TempDirectory();
        dir.Write("templates/shared.minijinja", "");
        var config = ConfigLoader.Parse(System.Text.Encoding.UTF8.GetBytes("""
            [gateway]
            global_outbound_http_timeout_ms = 120000
            template_filesystem_access.base_path = "templates"
            cache = { enabled = true, backend = "valkey", valkey = { ttl_s = 60 } }
            observability = { enabled = true, async_writes = true }
            """), dir.PathOf("tensorzero.toml"));

        var gateway = config.Gateway;
        gateway.GlobalOutboundHttpTimeout.Should().Be(TimeSpan.FromMinutes(2));
        gateway.TemplateBaseDirectory.Should().Be(dir.PathOf("templates"));
        gateway.Cache.Should().Be(new CacheSettings(true, CacheBackend.Valkey, TimeSpan.FromMinutes(1)));
        gateway.Observability.Should().Be(new ObservabilityConfig { Enabled = true, AsyncWrites = true });
        config.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void Parse_NoGatewaySection_HasTensorZerosDefaults()
    {
        var gateway = ConfigLoader.Parse("").Gateway;

        gateway.GlobalOutboundHttpTimeout.Should().Be(TimeSpan.FromMinutes(15));
        gateway.TemplateBaseDirectory.Should().BeNull();
        gateway.Cache.Should().Be(CacheSettings.Default);
        gateway.Observability.Enabled.Should().BeNull();
    }

    [Fact]
    public void Parse_ObservabilityWithoutEnabled_LeavesItUnset()
    {
        // Unset means "if a ClickHouse URL is configured", which is not the same as false.
        ConfigLoader.Parse("[gateway.observability]\nasync_writes = true\n").Gateway.Observability.Enabled.Should().BeNull();
    }

    [Theory]
    [InlineData("", "Disabled", null, null)]
    [InlineData("[object_storage]\ntype = \"disabled\"\n", "Disabled", null, null)]
    [InlineData("[object_storage]\ntype = \"filesystem\"\npath = \"/data/files\"\n", "Filesystem", "/data/files", null)]
    [InlineData("[object_storage]\ntype = \"s3_compatible\"\nbucket_name = \"b\"\nregion = \"us-east-1\"\nendpoint = \"env::S3_URL\"\nallow_http = true\n", "S3Compatible", null, "b")]
    public void Parse_ObjectStorage_EveryType(string toml, string kind, string? path, string? bucket)
    {
        var storage = ConfigLoader.Parse(toml).ObjectStorage;

        storage.Kind.ToString().Should().Be(kind);
        storage.Path.Should().Be(path);
        storage.Bucket.Should().Be(bucket);
        if (bucket is not null)
        {
            storage.Should().BeEquivalentTo(new { Region = "us-east-1", Endpoint = "env::S3_URL", AllowHttp = true });
        }
    }

    [Fact]
    public void Parse_SeveralRefusedSettings_AreAllReportedAtOnce()
    {
        var act = () => ConfigLoader.Parse("""
            [gateway.relay]
            gateway_url = "http://edge:3000"
            [[rate_limiting.rules]]
            model_inferences_per_minute = 10
            cost_per_hour = 5
            always = true
            """);

        act.Should().Throw<ConfigException>().Which.Errors.Should().HaveCount(2);
    }

    private static void ShouldFail(string toml, string expected)
    {
        var act = () => ConfigLoader.Parse(toml);

        act.Should().Throw<ConfigException>().Which.Errors.Should().Contain(e => e.StartsWith(expected, StringComparison.Ordinal),
            because: $"the errors should include '{expected}'");
    }
}
