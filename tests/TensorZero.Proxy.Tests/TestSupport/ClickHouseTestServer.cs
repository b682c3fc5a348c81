using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>
/// The real ClickHouse server the observability tests run against. <c>tests/run</c> starts it and sets
/// <c>TZP_TEST_CLICKHOUSE_URL</c> (and <c>TZP_TEST_CLICKHOUSE_TCP_PORT</c> for clickhouse-client); without
/// them these tests fail, saying so: they are never skipped. Each test works in a database of its own.
/// </summary>
internal sealed class ClickHouseTestServer : IDisposable
{
    public const string UrlVariable = "TZP_TEST_CLICKHOUSE_URL";
    public const string TcpPortVariable = "TZP_TEST_CLICKHOUSE_TCP_PORT";

    private readonly HttpClient _http;

    public ClickHouseTestServer(string url, int tcpPort)
    {
        Url = url.TrimEnd('/');
        TcpPort = tcpPort;
        var uri = new Uri(Url);
        _http = new HttpClient { BaseAddress = new Uri($"{uri.Scheme}://{uri.Authority}/"), Timeout = TimeSpan.FromSeconds(30) };
        if (uri.UserInfo.Length > 0)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(uri.UserInfo))));
        }
    }

    /// <summary>The server tests/run started.</summary>
    public static ClickHouseTestServer Shared()
    {
        var url = Environment.GetEnvironmentVariable(UrlVariable);
        if (string.IsNullOrEmpty(url))
        {
            throw new InvalidOperationException(
                $"{UrlVariable} is not set: the observability tests need the real ClickHouse server that `bash tests/run` " +
                "installs and starts (tests/clickhouse/). Run the tests with `bash tests/run`.");
        }
        var tcp = Environment.GetEnvironmentVariable(TcpPortVariable);
        return new ClickHouseTestServer(url, int.TryParse(tcp, CultureInfo.InvariantCulture, out var port) ? port : 19000);
    }

    /// <summary>http://user:pass@127.0.0.1:port (no database).</summary>
    public string Url { get; }

    public int TcpPort { get; }

    /// <summary>The gateway's URL for a database of this server.</summary>
    public string UrlFor(string database) => $"{Url}/{database}";

    public static string NewDatabase() => "tzp_test_" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Runs a statement; throws with ClickHouse's message when it fails.</summary>
    public async Task<string> QueryAsync(string sql)
    {
        using var response = await _http.PostAsync("/", new StringContent(sql, Encoding.UTF8, "text/plain"));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"ClickHouse: {sql}\n{body}");
        }
        return body;
    }

    public async Task<long> ScalarAsync(string sql) => long.Parse((await QueryAsync(sql)).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Whether the server answers SELECT 1 now.</summary>
    public async Task<bool> IsUpAsync()
    {
        try
        {
            return (await QueryAsync("SELECT 1")).Trim() == "1";
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>Polls <paramref name="sql"/> (a count) until it reaches <paramref name="expected"/>; returns the last value. Bounded.</summary>
    public async Task<long> WaitForCountAsync(string sql, long expected, TimeSpan? limit = null)
    {
        var watch = Stopwatch.StartNew();
        long last = -1;
        while (watch.Elapsed < (limit ?? TimeSpan.FromSeconds(60)))
        {
            try
            {
                last = await ScalarAsync(sql);
                if (last >= expected)
                {
                    return last;
                }
            }
            catch (InvalidOperationException)
            {
                // The table may not exist before the first batch's migrations.
            }
            await Task.Delay(100);
        }
        return last;
    }

    public async Task DropDatabaseAsync(string database) => await QueryAsync($"DROP DATABASE IF EXISTS {database}");

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// A ClickHouse server process of a test's own (same config as tests/run, free loopback ports, a temp data folder),
/// for tests that stop and start ClickHouse without disturbing the shared one. Stopped by its PID.
/// </summary>
internal sealed class DedicatedClickHouse : IAsyncDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), $"tzp-ch-{Guid.NewGuid():N}");
    private Process? _process;

    private DedicatedClickHouse(int httpPort, int tcpPort)
    {
        HttpPort = httpPort;
        TcpPort = tcpPort;
        Client = new ClickHouseTestServer($"http://tzp:tzp-test-secret@127.0.0.1:{httpPort}", tcpPort);
    }

    public int HttpPort { get; }

    public int TcpPort { get; }

    public ClickHouseTestServer Client { get; }

    public static async Task<DedicatedClickHouse> StartAsync()
    {
        _ = ClickHouseTestServer.Shared(); // Same precondition as the shared server: tests/run installed ClickHouse.
        var server = new DedicatedClickHouse(FreePort(), FreePort());
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the process (again, on the same ports and data) and waits until it answers.</summary>
    public async Task StartAgainAsync()
    {
        Directory.CreateDirectory(_dataDir);
        // As tests/run does: the repository's config with its folders moved into this server's temp folder.
        var source = Path.Combine(RepoPaths.Root, "tests", "clickhouse");
        var config = Path.Combine(_dataDir, "config.xml");
        File.WriteAllText(config, File.ReadAllText(Path.Combine(source, "config.xml")).Replace("/tmp/tzp-clickhouse/", _dataDir + "/", StringComparison.Ordinal));
        File.Copy(Path.Combine(source, "users.xml"), Path.Combine(_dataDir, "users.xml"), overwrite: true);
        var info = new ProcessStartInfo("clickhouse-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["--config-file=" + config, "--", $"--http_port={HttpPort}", $"--tcp_port={TcpPort}"])
        {
            info.ArgumentList.Add(arg);
        }
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var watch = Stopwatch.StartNew();
        while (!await Client.IsUpAsync())
        {
            if (_process.HasExited || watch.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"The test's own ClickHouse did not start on port {HttpPort}.");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Kills the server (as a crash would) and waits for it to be gone.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        _process?.Dispose();
        _process = null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Client.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
