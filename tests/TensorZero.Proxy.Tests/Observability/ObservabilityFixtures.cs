using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Tests.TestSupport;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>Configurations, provider scripts and request helpers shared by the observability functional tests.</summary>
internal static class ObservabilityFixtures
{
    public const string ProviderKey = "sk-fake-provider-secret-must-not-be-stored";

    public static readonly IReadOnlyDictionary<string, string> ProviderEnvironment = new Dictionary<string, string> { ["FAKE_KEY"] = ProviderKey };

    /// <summary>
    /// Models <c>direct</c> (good) and <c>failover</c> (bad answering 500, then good), and function <c>f</c> whose
    /// variant <c>a</c> runs <c>direct</c>. Providers authenticate with <see cref="ProviderKey"/>.
    /// </summary>
    public static string Toml(string goodBaseUrl, string badBaseUrl, string gatewayTable = "") => $"""
        {gatewayTable}
        [models.direct]
        routing = ["good"]

        [models.direct.providers.good]
        type = "openai"
        model_name = "good-upstream"
        api_base = "{goodBaseUrl}/v1/"
        api_key_location = "env::FAKE_KEY"

        [models.failover]
        routing = ["bad", "good"]

        [models.failover.providers.bad]
        type = "openai"
        model_name = "bad-upstream"
        api_base = "{badBaseUrl}/v1/"
        api_key_location = "env::FAKE_KEY"

        [models.failover.providers.good]
        type = "openai"
        model_name = "good-upstream"
        api_base = "{goodBaseUrl}/v1/"
        api_key_location = "env::FAKE_KEY"

        [functions.f]
        type = "chat"

        [functions.f.variants.a]
        type = "chat_completion"
        model = "direct"
        """;

    /// <summary>Gateway arguments: no circuit ever opens (so attempt counts are exact), small batches, quick retries.</summary>
    public static string[] Args(string? clickHouseUrl, params string[] more) =>
    [
        "--TensorZero:CircuitBreaker:MinimumThroughput=1000000",
        "--TensorZero:Observability:FlushInterval=00:00:00.100",
        "--TensorZero:Observability:BatchRows=200",
        "--TensorZero:Observability:RetryBaseDelay=00:00:00.050",
        "--TensorZero:Observability:RetryMaxDelay=00:00:00.500",
        .. clickHouseUrl is null ? Array.Empty<string>() : ["--TensorZero:ClickHouseUrl=" + clickHouseUrl],
        .. more,
    ];

    /// <summary>
    /// A good provider: "fake reply" (streamed word by word), or a <c>get_weather</c> tool call when the request has
    /// tools; streamed tool calls arrive in pieces (id and name first, the arguments split) with a final usage chunk.
    /// </summary>
    public static Task GoodProvider(HttpContext context, ReceivedRequest request)
    {
        var json = request.Json;
        if (!json.TryGetProperty("tools", out _))
        {
            return FakeResponses.Default("fake reply")(context, request);
        }
        return FailingResponses.IsStream(request) ? StreamToolCallAsync(context) : ToolCallCompletionAsync(context);
    }

    private static async Task StreamToolCallAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        string Chunk(object delta, string? finish) => JsonSerializer.Serialize(new
        {
            id = "chatcmpl-tool", @object = "chat.completion.chunk", created = 1700000000, model = "good-upstream",
            choices = new[] { new { index = 0, delta, finish_reason = finish } },
        });
        object Call(string? id, string? name, string arguments) => new
        {
            tool_calls = new[] { new { index = 0, id, type = id is null ? null : "function", function = new { name, arguments } } },
        };
        await FakeResponses.WriteEvent(context, Chunk(new { role = "assistant" }, null));
        await FakeResponses.WriteEvent(context, Chunk(Call("call_1", "get_weather", ""), null));
        await FakeResponses.WriteEvent(context, Chunk(Call(null, null, "{\"city\":"), null));
        await FakeResponses.WriteEvent(context, Chunk(Call(null, null, "\"Paris\"}"), null));
        await FakeResponses.WriteEvent(context, Chunk(new { }, "tool_calls"));
        await FakeResponses.WriteEvent(context, JsonSerializer.Serialize(new
        {
            id = "chatcmpl-tool", @object = "chat.completion.chunk", created = 1700000000, model = "good-upstream",
            choices = Array.Empty<object>(), usage = new { prompt_tokens = 11, completion_tokens = 7, total_tokens = 18 },
        }));
        await context.Response.WriteAsync("data: [DONE]\n\n");
    }

    private static Task ToolCallCompletionAsync(HttpContext context)
    {
        var json = JsonSerializer.Serialize(new
        {
            id = "chatcmpl-tool", @object = "chat.completion", created = 1700000000, model = "good-upstream",
            choices = new[]
            {
                new
                {
                    index = 0,
                    message = new
                    {
                        role = "assistant", content = (string?)null,
                        tool_calls = new[] { new { id = "call_1", type = "function", function = new { name = "get_weather", arguments = "{\"city\":\"Paris\"}" } } },
                    },
                    finish_reason = "tool_calls",
                },
            },
            usage = new { prompt_tokens = 11, completion_tokens = 7, total_tokens = 18 },
        });
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(json);
    }

    /// <summary>A chat request body.</summary>
    public static StringContent Body(string model, bool stream, string extra = "") =>
        new($$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"what is the weather?"}]{{extra}}}""",
            Encoding.UTF8, "application/json");

    public const string Tools = ""","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]""";

    /// <summary>Sends a request, reads the whole response, returns the inference id header (null if absent).</summary>
    public static async Task<(int Status, string? InferenceId, string Body)> SendAsync(HttpClient client, HttpContent body)
    {
        using var response = await client.PostAsync("/v1/chat/completions", body);
        var text = await response.Content.ReadAsStringAsync();
        var id = response.Headers.TryGetValues("x-tensorzero-inference-id", out var values) ? values.First() : null;
        return ((int)response.StatusCode, id, text);
    }

    /// <summary>The rows in a table's queue files under the gateway's data folder (shipped nowhere without ClickHouse).</summary>
    public static List<JsonElement> QueuedRows(TestGateway gateway, TensorZero.Proxy.Observability.RecordTable table)
    {
        var folder = Path.Combine(gateway.DataDir, TensorZero.Proxy.Observability.RecordTables.Name(table));
        if (!Directory.Exists(folder))
        {
            return [];
        }
        var rows = new List<JsonElement>();
        foreach (var file in Directory.GetFiles(folder, "*" + TensorZero.Proxy.Observability.SegmentQueue.Extension).Order(StringComparer.Ordinal))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            rows.AddRange(Rows(reader.ReadToEnd()));
        }
        return rows;
    }

    /// <summary>Rows of a JSONEachRow answer.</summary>
    public static List<JsonElement> Rows(string jsonEachRow) =>
        [.. jsonEachRow.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement)];

    public static async Task<string> MetricsAsync(HttpClient client) => await client.GetStringAsync("/metrics");

    /// <summary>Polls /metrics until the sample (name and labels) satisfies <paramref name="condition"/>. Bounded.</summary>
    public static async Task<bool> WaitForMetricAsync(HttpClient client, string sample, Func<double, bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            var line = (await MetricsAsync(client)).Split('\n').FirstOrDefault(l => l.StartsWith(sample + " ", StringComparison.Ordinal));
            if (line is not null && condition(double.Parse(line[(sample.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture)))
            {
                return true;
            }
            await Task.Delay(50);
        }
        return false;
    }

    public static async Task<JsonElement> HealthAsync(HttpClient client, int expectedStatus)
    {
        using var response = await client.GetAsync("/health");
        ((int)response.StatusCode).Should().Be(expectedStatus);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
