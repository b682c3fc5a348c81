using TensorZero.Proxy.Benchmarks;

// dotnet run -c Release --project bench/TensorZero.Proxy.Benchmarks -- <mode> [options]
return args.FirstOrDefault() switch
{
    "failover" => await FailoverBenchmark.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: TensorZero.Proxy.Benchmarks failover [--seconds N] [--concurrency N] [--rounds N]");
    return 2;
}
