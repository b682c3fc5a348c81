using System.Text;
using Microsoft.Extensions.Time.Testing;
using TensorZero.Proxy.Configuration;
using TensorZero.Proxy.Inference;
using TensorZero.Proxy.Observability;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>ClickHouse URLs, the observability mode, migrations parsing and the Prometheus exposition.</summary>
public sealed class ObservabilitySettingsTests
{
    [Theory]
    [InlineData("http://user:pass@host:8123/tensorzero", "http://host:8123/", "tensorzero", "user:pass", "http://user:***@host:8123/tensorzero")]
    [InlineData("http://host:8123", "http://host:8123/", "tensorzero", null, "http://host:8123/tensorzero")]
    [InlineData("http://host:8123/", "http://host:8123/", "tensorzero", null, "http://host:8123/tensorzero")]
    [InlineData("https://u%40x:p%3Aw@ch.example:8443/obs_db", "https://ch.example:8443/", "obs_db", "u@x:p:w", "https://u%40x:***@ch.example:8443/obs_db")]
    [InlineData("http://onlyuser@host:8123/db", "http://host:8123/", "db", "onlyuser:", "http://onlyuser:***@host:8123/db")]
    public void TryParse_ValidUrl_SplitsAddressDatabaseAndCredentials(string url, string baseAddress, string database, string? credentials, string display)
    {
        ClickHouseEndpoint.TryParse(url, out var endpoint, out var error).Should().BeTrue(error);

        endpoint!.BaseAddress.ToString().Should().Be(baseAddress);
        endpoint.Database.Should().Be(database);
        endpoint.Display.Should().Be(display).And.NotContain("pass").And.NotContain("p:w");
        endpoint.ToString().Should().Be(display);
        if (credentials is null)
        {
            endpoint.Authorization.Should().BeNull();
        }
        else
        {
            Encoding.UTF8.GetString(Convert.FromBase64String(endpoint.Authorization!.Parameter!)).Should().Be(credentials);
        }
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://host/db")]
    [InlineData("http://user:secret@host:8123/a/b")]
    [InlineData("http://user:secret@host:8123/bad-name")]
    public void TryParse_InvalidUrl_FailsWithoutEchoingThePassword(string url)
    {
        ClickHouseEndpoint.TryParse(url, out _, out var error).Should().BeFalse();

        error.Should().NotBeNullOrEmpty().And.NotContain("secret");
    }

    [Theory]
    [InlineData(null, null, nameof(ObservabilityMode.Embedded))]
    [InlineData(null, "http://h:8123/db", nameof(ObservabilityMode.ClickHouse))]
    [InlineData(true, null, nameof(ObservabilityMode.Embedded))]
    [InlineData(true, "http://h:8123/db", nameof(ObservabilityMode.ClickHouse))]
    [InlineData(false, "http://h:8123/db", nameof(ObservabilityMode.Disabled))]
    [InlineData(false, null, nameof(ObservabilityMode.Disabled))]
    public void Resolve_EnabledAndUrl_DecideTheMode(bool? enabled, string? url, string expected)
    {
        var settings = ObservabilitySettings.Resolve(new ObservabilityConfig { Enabled = enabled }, url, new ObservabilityOptions());

        settings.Mode.ToString().Should().Be(expected);
        settings.ExplicitlyEnabled.Should().Be(enabled == true);
        Path.IsPathRooted(settings.DataDir).Should().BeTrue();
    }

    [Fact]
    public void Resolve_BadOptionsAndUrl_ReportsEveryProblem()
    {
        var options = new ObservabilityOptions { BatchRows = 0, FlushInterval = TimeSpan.Zero, MaxQueueBytes = 10 };

        var act = () => ObservabilitySettings.Resolve(new ObservabilityConfig(), "http://u:secret@h/a/b", options);

        act.Should().Throw<ConfigException>().Which.Errors.Should().HaveCount(4)
            .And.Contain(e => e.Contains("BatchRows")).And.Contain(e => e.Contains("FlushInterval"))
            .And.Contain(e => e.Contains("MaxQueueBytes")).And.Contain(e => e.StartsWith("TENSORZERO_CLICKHOUSE_URL"))
            .And.NotContain(e => e.Contains("secret"));
    }

    [Fact]
    public void Load_EmbeddedMigrations_AreOrderedAndSubstituteTheDatabase()
    {
        var migrations = ClickHouseMigrations.Load("mydb");

        migrations.Should().NotBeEmpty();
        migrations.Select(m => m.Version).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        migrations[0].Name.Should().Be("0001_inference_tables");
        migrations[0].Statements.Should().HaveCount(2).And.AllSatisfy(s =>
        {
            s.Should().StartWith("CREATE TABLE IF NOT EXISTS mydb.");
            s.Should().NotContain("{database}").And.NotEndWith(";");
        });
        migrations[1].Name.Should().Be("0002_json_inference_and_feedback");
        migrations[1].Statements.Should().AllSatisfy(s => s.Should().MatchRegex(@"^(CREATE TABLE IF NOT EXISTS|CREATE MATERIALIZED VIEW IF NOT EXISTS|INSERT INTO) mydb\."));
        // Types ClickHouse 18.16 lacks (the type Bool, not the table BooleanMetricFeedback).
        string.Join("\n", migrations.SelectMany(m => m.Statements)).Should()
            .NotContain("Map(").And.NotContain("DateTime64").And.NotContain("LowCardinality").And.NotMatchRegex(@"\bBool\b");
    }

    [Fact]
    public void SplitStatements_DropsCommentsAndSplitsOnLineEndSemicolons()
    {
        ClickHouseMigrations.SplitStatements("-- note; not a statement\nCREATE TABLE a\n(x String);\n\nSELECT ';'\n;\n")
            .Should().Equal("CREATE TABLE a\n(x String)", "SELECT ';'");
    }

    [Theory]
    [InlineData("Code: 376, e.displayText() = DB::Exception: Cannot parse uuid", 376)]
    [InlineData("Code: 60. DB::Exception: Table db.ChatInference doesn't exist. (UNKNOWN_TABLE)", 60)]
    [InlineData("Bad gateway", null)]
    public void ErrorCode_OldAndNewServers_AreRead(string body, int? expected) =>
        ClickHouseClient.ErrorCode(body).Should().Be(expected);

    [Fact]
    public void Render_AfterInferences_IsPrometheusTextWithEscapedLabels()
    {
        var metrics = new GatewayMetrics();
        var time = new FakeTimeProvider();
        InferenceRequest.TryParse("""{"model":"m","messages":[]}"""u8.ToArray(), out var request, out _);
        var inference = new InferenceFeature(request!, GatewayFields.Empty, Guid.CreateVersion7(), time.GetUtcNow(), 0)
        {
            FunctionName = "f\"q",
            VariantName = "v\\1",
            Outcome = InferenceOutcome.Ok,
            Duration = TimeSpan.FromMilliseconds(50),
        };
        inference.AddAttempt(new AttemptRecord("m", "bad", AttemptOutcome.Status, 500, TimeSpan.FromMilliseconds(20), null));
        var ok = new AttemptRecord("m", "good", AttemptOutcome.Ok, 200, TimeSpan.FromMilliseconds(29.5), null);
        inference.AddAttempt(ok);
        inference.CommittedAttempt = ok;
        metrics.Record(inference);

        var text = metrics.Render([("m/good", Polly.CircuitBreaker.CircuitState.Open)],
            [new QueueMetrics("ChatInference", 3, 300, 10, 7, 1, 2, 0, 0)]);

        text.Should().Contain("# TYPE tensorzero_inferences_total counter\n");
        text.Should().Contain("tensorzero_inferences_total{function=\"f\\\"q\",variant=\"v\\\\1\",model=\"m\",provider=\"good\",outcome=\"ok\"} 1\n");
        text.Should().Contain("tensorzero_provider_requests_total{model=\"m\",provider=\"bad\",outcome=\"status\"} 1\n");
        text.Should().Contain("tensorzero_failovers_total{model=\"m\",provider=\"bad\"} 1\n");
        text.Should().Contain("tensorzero_provider_attempt_duration_seconds_bucket{model=\"m\",provider=\"good\",le=\"0.025\"} 0\n");
        text.Should().Contain("tensorzero_provider_attempt_duration_seconds_bucket{model=\"m\",provider=\"good\",le=\"0.05\"} 1\n");
        text.Should().Contain("tensorzero_provider_attempt_duration_seconds_count{model=\"m\",provider=\"good\"} 1\n");
        text.Should().Contain("tensorzero_gateway_overhead_seconds_bucket{le=\"0.001\"} 1\n", "50 - 20 - 29.5 = 0.5 ms");
        text.Should().Contain("tensorzero_circuit_state{provider=\"m/good\",state=\"open\"} 1\n");
        text.Should().Contain("tensorzero_circuit_state{provider=\"m/good\",state=\"closed\"} 0\n");
        text.Should().Contain("tensorzero_observability_queue_rows{table=\"ChatInference\"} 3\n");
        text.Should().Contain("tensorzero_observability_queue_bytes{table=\"ChatInference\"} 300\n");
        text.Should().Contain("tensorzero_observability_rows_shipped_total{table=\"ChatInference\"} 7\n");
        text.Should().Contain("tensorzero_observability_rows_dropped_total{table=\"ChatInference\",reason=\"memory_full\"} 2\n");
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().AllSatisfy(line =>
            line.Should().MatchRegex(@"^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{.*\})? \S+)$"));
    }
}
