using TensorZero.Proxy.Gateway;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// Issue "timeouts and failover": with its circuit open, a dead first provider must cost no connect attempt.
/// Closed-loop throughput of model [dead → good] is compared with model [good] alone, in alternating rounds
/// so machine noise hits both alike. Pass: the ratio is at least 80%.
/// </summary>
internal static class FailoverBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = LoadOptions.IntOption(args, "--seconds", 5);
        var concurrency = LoadOptions.IntOption(args, "--concurrency", 32);
        var rounds = LoadOptions.IntOption(args, "--rounds", 3);

        await using var upstream = await MockUpstream.StartAsync();
        var work = Directory.CreateTempSubdirectory("tzp-bench-failover-");
        var config = await BenchSetup.WriteConfigAsync(work.FullName, "failover.toml", $"""
            [models.good]
            routing = ["good"]
            [models.good.providers.good]
            type = "openai"
            model_name = "mock"
            api_base = "{upstream.BaseUrl}/v1/"
            api_key_location = "none"

            [models.dead_first]
            routing = ["dead", "good"]
            [models.dead_first.providers.dead]
            type = "openai"
            model_name = "mock"
            api_base = "http://127.0.0.1:1/v1/"
            api_key_location = "none"
            [models.dead_first.providers.good]
            type = "openai"
            model_name = "mock"
            api_base = "{upstream.BaseUrl}/v1/"
            api_key_location = "none"
            """);
        try
        {
            var app = GatewayHost.CreateApp(["--config-file", config, "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
            await app.StartAsync();
            var gateway = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false })
            {
                BaseAddress = new Uri(gateway),
            };

            // Open the dead provider's circuit (and warm both paths up).
            await DriveAsync(client, "dead_first", concurrency, TimeSpan.FromSeconds(2));
            await DriveAsync(client, "good", concurrency, TimeSpan.FromSeconds(2));

            Console.WriteLine($"failover benchmark: {Environment.ProcessorCount} cores, {concurrency} concurrent clients, {rounds} rounds x {seconds} s per model");
            Console.WriteLine("round | model       | requests | errors | req/s");
            double good = 0, deadFirst = 0;
            for (var round = 1; round <= rounds; round++)
            {
                foreach (var model in round % 2 == 1 ? new[] { "good", "dead_first" } : ["dead_first", "good"])
                {
                    var (ok, errors, elapsed) = await DriveAsync(client, model, concurrency, TimeSpan.FromSeconds(seconds));
                    var rate = ok / elapsed.TotalSeconds;
                    Console.WriteLine($"{round,5} | {model,-11} | {ok,8} | {errors,6} | {rate,8:F0}");
                    if (model == "good")
                    {
                        good += rate;
                    }
                    else
                    {
                        deadFirst += rate;
                    }
                }
            }
            var ratio = deadFirst / good;
            Console.WriteLine($"mean req/s: good {good / rounds:F0}, dead_first {deadFirst / rounds:F0}; ratio {ratio:P1} (budget >= 80%): {(ratio >= 0.8 ? "PASS" : "FAIL")}");
            await app.StopAsync();
            return ratio >= 0.8 ? 0 : 1;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<(long Ok, long Errors, TimeSpan Elapsed)> DriveAsync(HttpClient client, string model, int concurrency, TimeSpan duration)
    {
        var body = Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hello"}]}""");
        long ok = 0, errors = 0;
        var watch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (watch.Elapsed < duration)
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new("application/json");
                using var response = await client.PostAsync("/v1/chat/completions", content);
                await response.Content.CopyToAsync(Stream.Null);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref ok);
                }
                else
                {
                    Interlocked.Increment(ref errors);
                }
            }
        });
        await Task.WhenAll(workers);
        return (ok, errors, watch.Elapsed);
    }
}
