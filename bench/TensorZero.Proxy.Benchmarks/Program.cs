using TensorZero.Proxy.Benchmarks;

// dotnet run -c Release --project bench/TensorZero.Proxy.Benchmarks -- <mode> [options]
return args.FirstOrDefault() switch
{
    "failover" => await FailoverBenchmark.RunAsync(args[1..]),
    "load" => await LoadBenchmark.RunAsync(args[1..]),
    "soak" => await SoakBenchmark.RunAsync(args[1..]),
    "mock" => await MockUpstream.RunUntilKilledAsync(args[1..]),
    "micro" => RunMicro(args[1..]),
    "openloop" => await OpenLoopClient.RunAsync(args[1..]),
    "alloc" => await AllocationBenchmark.RunAsync(args[1..]),
    "machine" => MachineProbe.Run(args[1..]),
    _ => Usage(),
};

static int RunMicro(string[] args)
{
    BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(HotPathBenchmarks).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: TensorZero.Proxy.Benchmarks <mode>
          load [--quick] [--rates 500,1000,2000] [--rounds N] [--seconds N] [--warmup-rounds N] [--warmup-seconds N]
               [--clients N] [--connections N] [--closed-rounds N] [--closed-seconds N] [--observability off] [--keep]
          soak [--minutes 10] [--rate 1000]   (gateway RSS over time, no row lost)
          failover [--seconds N] [--concurrency N] [--rounds N]
          mock --port N
          micro [BenchmarkDotNet arguments]   (hot-path pieces, allocations per op)
          alloc [requests]                   (bytes allocated per request: gateway route vs plain YARP route)
          machine [--records N] [--stall-seconds N] [--cpu N]
                                             (what a durable append, a system call and a page cost here; the VM's stalls)
        """);
    return 2;
}
