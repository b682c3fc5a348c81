using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using TensorZero.Proxy.Observability;
using TensorZero.Proxy.Tests.TestSupport;
using static TensorZero.Proxy.Tests.Observability.ObservabilityFixtures;

namespace TensorZero.Proxy.Tests.Observability;

/// <summary>
/// Embeddings inferences recorded as <c>EmbeddingInference</c> rows with a <c>ModelInference</c> row per attempt: in the
/// queue files (no ClickHouse) and in the real ClickHouse server that tests/run starts (a database of its own per test).
/// </summary>
public sealed class ClickHouseEmbeddingsTests
{
    private static string EmbeddingToml(string goodBaseUrl, string badBaseUrl) => $"""
        [embedding_models.emb]
        routing = ["bad", "good"]

        [embedding_models.emb.providers.bad]
        type = "openai"
        model_name = "bad-embedder"
        api_base = "{badBaseUrl}/v1/"
        api_key_location = "env::FAKE_KEY"

        [embedding_models.emb.providers.good]
        type = "openai"
        model_name = "good-embedder"
        api_base = "{goodBaseUrl}/v1/"
        api_key_location = "env::FAKE_KEY"
        """;

    /// <summary>Two 4-dimensional vectors per request (whatever it asks), 9 prompt tokens.</summary>
    private static Task Embeddings(HttpContext context, ReceivedRequest request)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync("""
            {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25,0,1]},{"object":"embedding","index":1,"embedding":[1,0,0,0.5]}],
             "model":"good-embedder","usage":{"prompt_tokens":9,"total_tokens":9}}
            """);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<string> EmbedAsync(TestGateway gateway, string extra = "")
    {
        using var response = await gateway.Client.PostAsync("/openai/v1/embeddings",
            Json($$"""{"model":"tensorzero::embedding_model_name::emb","input":["first","second"],"dimensions":4{{extra}}}"""));
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return response.Headers.GetValues("x-tensorzero-inference-id").Single();
    }

    private static void ShouldBeTheEmbeddingRow(JsonElement row, string id)
    {
        row.GetProperty("id").GetString().Should().Be(id);
        row.GetProperty("embedding_model_name").GetString().Should().Be("emb");
        row.GetProperty("model").GetString().Should().Be("tensorzero::embedding_model_name::emb");
        row.GetProperty("model_provider_name").GetString().Should().Be("good");
        JsonDocument.Parse(row.GetProperty("input").GetString()!).RootElement.EnumerateArray().Select(e => e.GetString()).Should().Equal("first", "second");
        row.GetProperty("num_inputs").GetInt32().Should().Be(2);
        row.GetProperty("dimensions").GetInt32().Should().Be(4);
        row.GetProperty("encoding_format").GetString().Should().Be("float");
        row.GetProperty("output_dimensions").GetInt32().Should().Be(4);
        row.GetProperty("input_tokens").GetInt32().Should().Be(9);
        row.GetProperty("outcome").GetString().Should().Be("ok");
        row.GetProperty("attempt_count").GetInt32().Should().Be(2);
    }

    private static void ShouldBeTheAttempts(IReadOnlyList<JsonElement> rows, string id)
    {
        rows.Select(r => r.GetProperty("inference_id").GetString()).Should().AllBe(id);
        rows.Select(r => (r.GetProperty("model_provider_name").GetString(), r.GetProperty("outcome").GetString()))
            .Should().BeEquivalentTo([("bad", "status"), ("good", "ok")]);
        var good = rows.Single(r => r.GetProperty("model_provider_name").GetString() == "good");
        good.GetProperty("model_name").GetString().Should().Be("emb");
        JsonDocument.Parse(good.GetProperty("raw_request").GetString()!).RootElement.GetProperty("model").GetString().Should().Be("good-embedder");
        good.GetProperty("raw_response").GetString().Should().Contain("\"embedding\":[0.5,0.25,0,1]");
        good.GetProperty("input_tokens").GetInt32().Should().Be(9);
        string.Join(",", good.GetProperty("headers.value").EnumerateArray().Select(v => v.GetString())).Should().NotContain(ProviderKey);
    }

    [Fact]
    public async Task Embeddings_NoClickHouse_QueuedAsEmbeddingInferenceAndModelInferenceRows()
    {
        await using var good = await FakeProvider.StartAsync(Embeddings);
        await using var bad = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
        await using var gateway = await TestGateway.StartAsync(EmbeddingToml(good.BaseUrl, bad.BaseUrl), ProviderEnvironment, Args(null));

        var id = await EmbedAsync(gateway);
        await EmbedAsync(gateway, ""","tensorzero::dryrun":true""");

        ShouldBeTheEmbeddingRow(ObservabilityFixtures.QueuedRows(gateway, RecordTable.EmbeddingInference).Should().ContainSingle("a dry run records nothing").Subject, id);
        ShouldBeTheAttempts(ObservabilityFixtures.QueuedRows(gateway, RecordTable.ModelInference), id);
        ObservabilityFixtures.QueuedRows(gateway, RecordTable.ChatInference).Should().BeEmpty();
    }

    [Fact]
    public async Task Embeddings_ClickHouse_RowsLandInEmbeddingInferenceAndModelInference()
    {
        using var server = ClickHouseTestServer.Shared();
        var database = ClickHouseTestServer.NewDatabase();
        try
        {
            await using var good = await FakeProvider.StartAsync(Embeddings);
            await using var bad = await FakeProvider.StartAsync(FailingResponses.For(FailureMode.Status500));
            await using var gateway = await TestGateway.StartAsync(EmbeddingToml(good.BaseUrl, bad.BaseUrl), ProviderEnvironment, Args(server.UrlFor(database)));

            var id = await EmbedAsync(gateway);

            (await server.WaitForCountAsync($"SELECT uniqExact(id) FROM {database}.EmbeddingInference", 1)).Should().Be(1);
            (await server.WaitForCountAsync($"SELECT uniqExact(id) FROM {database}.ModelInference", 2)).Should().Be(2);
            var row = Rows(await server.QueryAsync($"SELECT * FROM {database}.EmbeddingInference FINAL FORMAT JSONEachRow")).Single();
            ShouldBeTheEmbeddingRow(row, id);
            ShouldBeTheAttempts(Rows(await server.QueryAsync($"SELECT * FROM {database}.ModelInference FINAL FORMAT JSONEachRow")), id);
        }
        finally
        {
            await server.DropDatabaseAsync(database);
        }
    }

}
