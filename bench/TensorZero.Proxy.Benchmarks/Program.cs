using TensorZero.Proxy.Benchmarks;

// dotnet run -c Release --project bench/TensorZero.Proxy.Benchmarks -- <mode> [options]
return args.FirstOrDefault() switch
{
    "failover" => await FailoverBenchmark.RunAsync(args[1..]),
    "load" => await LoadBenchmark.RunAsync(args[1..]),
    "mock" => await MockUpstream.RunUntilKilledAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: TensorZero.Proxy.Benchmarks <mode>
          load [--quick] [--rates 500,1000,2000] [--rounds N] [--seconds N] [--clients N] [--connections N]
          failover [--seconds N] [--concurrency N] [--rounds N]
          mock --port N
        """);
    return 2;
}
