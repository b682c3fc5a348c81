using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TensorZero.Proxy.Benchmarks;

/// <summary>
/// <c>bench/run machine</c>: what the machine charges for the pieces of a durable record and how still a core
/// stays, measured on the gateway's CPU. It prints the floor under the closed-loop line of DESIGN.md §8: the
/// record of each inference is two rows appended to two queue files before its response completes (issue 7), and
/// the numbers here are what those appends cost on this machine, whatever the code around them does.
/// </summary>
internal static partial class MachineProbe
{
    private const int RecordBytes = 2_000;
    private const int ClockThreadCpuTime = 3;

    public static int Run(string[] args)
    {
        var records = LoadOptions.IntOption(args, "--records", 200_000);
        var stallSeconds = LoadOptions.IntOption(args, "--stall-seconds", 10);
        var cpu = LoadOptions.IntOption(args, "--cpu", 0);
        if (OperatingSystem.IsLinux())
        {
            Process.GetCurrentProcess().ProcessorAffinity = (nint)(1L << cpu);
        }
        var work = Directory.CreateTempSubdirectory("tzp-machine-");
        try
        {
            Console.WriteLine($"# machine probe on CPU {cpu}: {Environment.ProcessorCount} CPUs, {Environment.OSVersion}, {records:N0} records of {RecordBytes:N0} bytes");
            Console.WriteLine();
            Console.WriteLine("| piece | CPU per record (median of 3) | runs |");
            Console.WriteLine("|---|---|---|");
            Row("a system call (getppid, through P/Invoke)", Repeat(() => SystemCall(records * 10)), "ns");
            var oneRecordPerWrite = Repeat(() => Append(work.FullName, records, 1));
            Row("append one 2,000-byte record per write (as the queue does per table)", oneRecordPerWrite, "µs");
            Row("append 100 records per write (a shared write)", Repeat(() => Append(work.FullName, records, 100)), "µs");
            Row("first touch of new memory, per 2,000 bytes (page faults)", Repeat(() => Touch(records)), "µs");
            Console.WriteLine();
            Console.WriteLine($"two appends per inference (its ChatInference and ModelInference rows), each in its own write: {2 * Median(oneRecordPerWrite):F2} µs of CPU per request, before any row is serialized");
            Console.WriteLine();
            Stalls(stallSeconds);
            return 0;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static void Row(string piece, double[] runs, string unit) =>
        Console.WriteLine($"| {piece} | {Median(runs):F2} {unit} | {string.Join(", ", runs.Select(r => r.ToString("F2")))} |");

    private static double[] Repeat(Func<double> measure) => [measure(), measure(), measure()];

    private static double Median(double[] runs) => runs.Order().ElementAt(runs.Length / 2);

    /// <summary>Nanoseconds of this thread's CPU per system call.</summary>
    private static double SystemCall(int calls)
    {
        var start = ThreadCpuNanoseconds();
        for (var i = 0; i < calls; i++)
        {
            GetParentProcessId();
        }
        return (ThreadCpuNanoseconds() - start) / calls;
    }

    /// <summary>Microseconds of this thread's CPU per record appended to a new file, <paramref name="perWrite"/> records per write(2).</summary>
    private static double Append(string folder, int records, int perWrite)
    {
        var path = Path.Combine(folder, $"segment-{Guid.NewGuid():N}.jsonl");
        var batch = new byte[RecordBytes * perWrite];
        batch.AsSpan().Fill((byte)'x');
        try
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);
            var start = ThreadCpuNanoseconds();
            for (var written = 0; written < records; written += perWrite)
            {
                file.Write(batch);
            }
            return (ThreadCpuNanoseconds() - start) / records / 1_000;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Microseconds of this thread's CPU per 2,000 bytes of freshly allocated native memory written once.</summary>
    private static unsafe double Touch(int records)
    {
        var bytes = (nuint)records * RecordBytes;
        var start = ThreadCpuNanoseconds();
        var memory = (byte*)NativeMemory.Alloc(bytes);
        try
        {
            for (nuint offset = 0; offset < bytes; offset += 4096)
            {
                memory[offset] = 1;
            }
            return (ThreadCpuNanoseconds() - start) / records / 1_000;
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    /// <summary>Spins on the clock and counts the gaps in which this thread did not run: the VM's own tail.</summary>
    private static void Stalls(int seconds)
    {
        long[] bounds = [20, 100, 500, 1_000, 2_000, 5_000];
        var counts = new long[bounds.Length];
        var ticksPerMicrosecond = Stopwatch.Frequency / 1_000_000.0;
        var end = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
        var previous = Stopwatch.GetTimestamp();
        double lost = 0;
        double longest = 0;
        while (true)
        {
            var now = Stopwatch.GetTimestamp();
            if (now > end)
            {
                break;
            }
            var gap = (now - previous) / ticksPerMicrosecond;
            previous = now;
            if (gap < bounds[0])
            {
                continue;
            }
            lost += gap;
            longest = Math.Max(longest, gap);
            var bucket = bounds.Length - 1;
            while (gap < bounds[bucket])
            {
                bucket--;
            }
            counts[bucket]++;
        }
        Console.WriteLine($"a thread spinning on the clock for {seconds} s on an otherwise idle CPU: times it did not run for");
        Console.WriteLine(string.Join(", ", bounds.Select((b, i) => $"{(i + 1 < bounds.Length ? $"{b}–{bounds[i + 1]} µs" : $"≥ {b} µs")}: {counts[i]}")));
        Console.WriteLine($"time lost {lost / (seconds * 1e6):P2}, longest {longest / 1_000:F2} ms");
    }

    private static double ThreadCpuNanoseconds()
    {
        ClockGetTime(ClockThreadCpuTime, out var time);
        return time.Seconds * 1e9 + time.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentProcessId();
}
