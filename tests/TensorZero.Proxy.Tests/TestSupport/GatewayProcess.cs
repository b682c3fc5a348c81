using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TensorZero.Proxy.Tests.TestSupport;

/// <summary>
/// An app as its own process (by default the built gateway host, src/TensorZero.Proxy.Gateway), so a test can kill it
/// with SIGKILL, run two on one data folder, or drive an app built elsewhere (the plugin sample).
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private GatewayProcess(Process process, ConcurrentQueue<string> output, int port)
    {
        _process = process;
        _output = output;
        BaseUrl = $"http://127.0.0.1:{port}";
        Client = new HttpClient { BaseAddress = new Uri(BaseUrl) };
    }

    public string BaseUrl { get; }

    public HttpClient Client { get; }

    /// <summary>Every line the process wrote so far, stdout and stderr.</summary>
    public IReadOnlyList<string> Output => [.. _output];

    /// <summary>The gateway host's build output of the configuration the tests run in.</summary>
    public static string GatewayDll
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                ? "Release" : "Debug";
            return Path.Combine(RepoPaths.Root, "src", "TensorZero.Proxy.Gateway", "bin", configuration, "net10.0", "TensorZero.Proxy.Gateway.dll");
        }
    }

    /// <summary>Starts the gateway host with <paramref name="args"/> on a free loopback port; returns once <c>GET /status</c> answers 200.</summary>
    public static Task<GatewayProcess> StartAsync(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartAsync(GatewayDll, environment, "/status", args);

    /// <summary>Starts <paramref name="dll"/> with <paramref name="args"/> and <c>--urls</c> on a free loopback port; returns once <paramref name="readyPath"/> answers 200.</summary>
    /// <remarks>The process runs in <paramref name="dll"/>'s folder, where an app built elsewhere finds its appsettings.json.</remarks>
    public static async Task<GatewayProcess> StartAsync(string dll, IReadOnlyDictionary<string, string> environment, string readyPath, params string[] args)
    {
        File.Exists(dll).Should().BeTrue($"the app is built ({dll})");
        var port = FreePort();
        var output = new ConcurrentQueue<string>();
        var process = Launch(dll, environment, [.. args, "--urls", $"http://127.0.0.1:{port}"], output);
        var gateway = new GatewayProcess(process, output, port);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await gateway.Client.GetAsync(readyPath);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return gateway;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (process.HasExited || watch.Elapsed > TimeSpan.FromSeconds(60))
            {
                await gateway.DisposeAsync();
                throw new InvalidOperationException($"{Path.GetFileName(dll)} did not start:{Environment.NewLine}{string.Join(Environment.NewLine, output)}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Runs the gateway host with <paramref name="args"/> until it exits (killed after <paramref name="timeout"/>).</summary>
    public static async Task<(int ExitCode, IReadOnlyList<string> StandardOutput, IReadOnlyList<string> StandardError)> RunToExitAsync(
        IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] args)
    {
        var info = StartInfo(GatewayDll, environment, args);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The gateway did not exit within {timeout}.");
        }
        return (process.ExitCode, Lines(await stdout), Lines(await stderr));

        static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>SIGKILL: no shutdown, no drain.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        Client.Dispose();
        return default;
    }

    private static Process Launch(string dll, IReadOnlyDictionary<string, string> environment, string[] args, ConcurrentQueue<string> output)
    {
        var process = Process.Start(StartInfo(dll, environment, args))!;
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;

        void Add(string? line)
        {
            if (line is not null)
            {
                output.Enqueue(line);
            }
        }
    }

    private static ProcessStartInfo StartInfo(string dll, IReadOnlyDictionary<string, string> environment, string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        return info;
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
