using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>
/// A real redis-server (Debian's package; <c>tests/run</c> installs it) that a test starts for itself on a free
/// loopback port, without persistence, and stops by its PID. <see cref="StopAsync"/> and <see cref="RestartAsync"/>
/// let a test take the store away and bring it back on the same port. Without the binary the test fails, saying how
/// to install it: never skipped.
/// </summary>
internal sealed class RedisTestServer : IAsyncDisposable
{
    private readonly string _binary;
    private readonly string _directory;
    private Process? _process;

    private RedisTestServer(string binary, int port)
    {
        _binary = binary;
        Port = port;
        _directory = Path.Combine(Path.GetTempPath(), "tzp-redis-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
    }

    public int Port { get; }

    /// <summary>The gateway's <c>TENSORZERO_VALKEY_URL</c> for this server.</summary>
    public string Url => $"redis://127.0.0.1:{Port}";

    /// <summary>Whether the process is running now.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a server on a free port; returns once it answers PING.</summary>
    public static async Task<RedisTestServer> StartAsync()
    {
        var binary = FindBinary() ?? throw new InvalidOperationException(
            "redis-server is not installed: the shared-store tests start Debian's redis-server themselves. " +
            "Install it with `apt-get install redis-server`, or run the tests with `bash tests/run`, which does.");
        var server = new RedisTestServer(binary, GatewayProcess.FreePort());
        await server.RestartAsync();
        return server;
    }

    /// <summary>Starts the server again (same port, empty data) after <see cref="StopAsync"/>.</summary>
    public async Task RestartAsync()
    {
        if (IsRunning)
        {
            return;
        }
        var start = new ProcessStartInfo(_binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        foreach (var arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", _directory, "--daemonize", "no", "--protected-mode", "yes" })
        {
            start.ArgumentList.Add(arg);
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited at start with code {_process.ExitCode} (port {Port})");
            }
            if (await CommandAsync("PING") == "+PONG")
            {
                return;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"redis-server did not answer PING on port {Port} within 15 s");
    }

    /// <summary>Kills the server (SIGKILL, as a crash) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Sends one inline command; returns the first reply line (e.g. <c>+PONG</c>), or null when nothing listens.</summary>
    public async Task<string?> CommandAsync(string command) => (await ReplyAsync(command))?.Split("\r\n")[0];

    /// <summary>Sends one inline command; returns the raw reply (a bulk string's value is on its second line), or null when nothing listens.</summary>
    public async Task<string?> ReplyAsync(string command)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
            var buffer = new byte[4096];
            var read = await stream.ReadAsync(buffer);
            return read == 0 ? null : Encoding.UTF8.GetString(buffer, 0, read);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the exiting process: the temp folder is cleaned by the system.
        }
    }

    private static string? FindBinary()
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(folder, "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
