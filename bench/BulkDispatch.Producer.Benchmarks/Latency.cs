using System.Diagnostics;
using System.Globalization;

namespace BulkDispatch.Producer.Benchmarks;

/// <summary>Per-call latencies of one run (Stopwatch ticks), with the wall time and allocations of the run.</summary>
internal sealed class Latency
{
    private readonly long[] _sorted;

    public Latency(IEnumerable<long[]> perThread, TimeSpan wall, long allocatedBytes, int failed, TimeSpan gcPause, int gcCount)
    {
        GcPause = gcPause;
        GcCount = gcCount;
        _sorted = [.. perThread.SelectMany(s => s)];
        Array.Sort(_sorted);
        Wall = wall;
        AllocatedBytes = allocatedBytes;
        Failed = failed;
    }

    public int Calls => _sorted.Length;

    /// <summary>Time the runtime paused every thread for garbage collection during the run.</summary>
    public TimeSpan GcPause { get; }

    /// <summary>Garbage collections (of any generation) during the run.</summary>
    public int GcCount { get; }

    public TimeSpan Wall { get; }

    public long AllocatedBytes { get; }

    /// <summary>Calls that returned false (or threw, for the baseline).</summary>
    public int Failed { get; }

    public double CallsPerSecond => Calls / Wall.TotalSeconds;

    public double BytesPerCall => (double)AllocatedBytes / Calls;

    public double P50 => Percentile(0.50);

    public double P99 => Percentile(0.99);

    public double P999 => Percentile(0.999);

    public double Max => Micros(_sorted[^1]);

    public double Mean => Micros((long)_sorted.Average());

    /// <summary>Nearest-rank percentile in microseconds.</summary>
    public double Percentile(double p) => Micros(_sorted[Math.Clamp((int)Math.Ceiling(p * _sorted.Length) - 1, 0, _sorted.Length - 1)]);

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"p50 {Us(P50)}, p99 {Us(P99)}, p99.9 {Us(P999)}, max {Us(Max)}, mean {Us(Mean)} µs; {Calls:N0} calls in {Wall.TotalMilliseconds:0} ms ({CallsPerSecond:N0} calls/s); {BytesPerCall:0} B allocated/call on the calling threads; {GcCount} GCs pausing {GcPause.TotalMilliseconds:0} ms in all; {Failed} failed");

    public static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    public static string Us(double micros) => micros switch
    {
        < 10 => micros.ToString("0.00", CultureInfo.InvariantCulture),
        < 1000 => micros.ToString("0.0", CultureInfo.InvariantCulture),
        _ => micros.ToString("N0", CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// Runs <paramref name="call"/> <paramref name="totalCalls"/> times split over <paramref name="threads"/> dedicated
    /// threads that start together, timing each call with <see cref="Stopwatch.GetTimestamp"/>.
    /// </summary>
    /// <param name="call">(thread, i) → whether the call succeeded.</param>
    public static Latency Measure(int threads, int totalCalls, Func<int, int, bool> call) => Measure(threads, totalCalls, null, call);

    /// <summary>As above, running <paramref name="between"/> (untimed) before each call.</summary>
    public static Latency Measure(int threads, int totalCalls, Func<int, int, bool>? between, Func<int, int, bool> call)
    {
        int perThread = totalCalls / threads;
        var samples = new long[threads][];
        var allocated = new long[threads];
        int failed = 0;
        using var ready = new Barrier(threads + 1);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var mine = new long[perThread];
            ready.SignalAndWait();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < perThread; i++)
            {
                between?.Invoke(t, i);
                long start = Stopwatch.GetTimestamp();
                bool ok = call(t, i);
                mine[i] = Stopwatch.GetTimestamp() - start;
                if (!ok)
                {
                    Interlocked.Increment(ref failed);
                }
            }

            allocated[t] = GC.GetAllocatedBytesForCurrentThread() - before;
            samples[t] = mine;
        })
        { IsBackground = true, Name = $"bench-{t}" }).ToList();

        foreach (var worker in workers)
        {
            worker.Start();
        }

        var pauseBefore = GC.GetTotalPauseDuration();
        int gcBefore = GC.CollectionCount(0);
        ready.SignalAndWait();
        var wall = Stopwatch.StartNew();
        foreach (var worker in workers)
        {
            worker.Join();
        }

        wall.Stop();
        return new Latency(samples, wall.Elapsed, allocated.Sum(), failed, GC.GetTotalPauseDuration() - pauseBefore, GC.CollectionCount(0) - gcBefore);
    }
}
