using System.Globalization;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace BulkDispatch.EndToEnd;

/// <summary>
/// Summarises dotnet-trace files of the flush (profiles dotnet-sampled-thread-time and gc-verbose):
/// thread samples taken while managed code ran and sampled allocations, each put down to the
/// innermost frame of BulkDispatch's own code on its stack (inclusive cost of that method), plus the
/// top allocated types under it. Samples with no BulkDispatch frame are counted apart (AWS SDK,
/// Kestrel-free HTTP, runtime).
/// </summary>
internal static class TraceAnalysis
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static void Print(string[] files)
    {
        var cpu = new Dictionary<string, long>(StringComparer.Ordinal);
        var cpuLeaf = new Dictionary<string, long>(StringComparer.Ordinal);
        var alloc = new Dictionary<string, long>(StringComparer.Ordinal);
        var allocTypes = new Dictionary<string, long>(StringComparer.Ordinal);
        var kinds = new Dictionary<string, long>(StringComparer.Ordinal);
        long samples = 0, allocated = 0;
        foreach (var file in files)
        {
            string etlx = TraceLog.CreateFromEventPipeDataFile(file, null, new TraceLogOptions { ConversionLog = TextWriter.Null });
            using var log = new TraceLog(etlx);
            var source = log.Events.GetSource();
            source.AllEvents += e =>
            {
                Add(kinds, e.ProviderName + "/" + e.EventName, 1);
                // Microsoft-DotNETCore-SampleProfiler ThreadSample, Type 2: the thread was running managed code.
                if (e.ProviderName == "Microsoft-DotNETCore-SampleProfiler" && e.PayloadNames.Length > 0 && Convert.ToInt32(e.PayloadValue(0), C) == 2
                    && e.CallStack() is { } stack && !IsWaiting(stack.CodeAddress.FullMethodName))
                {
                    samples++;
                    Add(cpu, OwnFrame(stack) ?? "(no BulkDispatch frame)", 1);
                    Add(cpuLeaf, stack?.CodeAddress.FullMethodName is { Length: > 0 } leaf ? leaf : "?", 1);
                }
            };
            source.Clr.GCAllocationTick += (GCAllocationTickTraceData e) =>
            {
                allocated += e.AllocationAmount64;
                string own = OwnFrame(e.CallStack()) ?? "(no BulkDispatch frame)";
                Add(alloc, own, e.AllocationAmount64);
                Add(allocTypes, own + "  <-  " + e.TypeName, e.AllocationAmount64);
            };
            source.Process();
        }

        Console.WriteLine(string.Create(C, $"{files.Length} trace(s): {samples} thread samples running managed code (waits excluded); {allocated / 1048576.0:N0} MiB sampled allocations"));
        Top("events in the trace", kinds, kinds.Values.Sum(), v => v.ToString(C));
        Top("CPU (managed-code thread samples), inclusive, by innermost BulkDispatch frame", cpu, samples, v => v.ToString(C));
        Top("CPU, by leaf frame", cpuLeaf, samples, v => v.ToString(C));
        Top("allocations by innermost BulkDispatch frame", alloc, allocated, v => (v / 1048576.0).ToString("N0", C) + " MiB");
        Top("allocations by frame and type", allocTypes, allocated, v => (v / 1048576.0).ToString("N0", C) + " MiB");
    }

    // Thread-time samples also catch threads that wait or spin in managed code; those are not work.
    private static bool IsWaiting(string leaf) =>
        leaf.StartsWith("System.Threading.LowLevelLifoSemaphore.Wait", StringComparison.Ordinal)
        || leaf.StartsWith("System.Threading.LowLevelSpinWaiter.Wait", StringComparison.Ordinal)
        || leaf.StartsWith("System.Threading.WaitHandle.WaitOneNoCheck", StringComparison.Ordinal)
        || leaf.StartsWith("System.Threading.PortableThreadPool+WorkerThread.WorkerThreadStart", StringComparison.Ordinal)
        || leaf.StartsWith("System.Threading.Thread.<PollGC>", StringComparison.Ordinal)
        || leaf.StartsWith("System.Threading.Monitor.Wait", StringComparison.Ordinal);

    private static string? OwnFrame(TraceCallStack? stack)
    {
        for (var s = stack; s is not null; s = s.Caller)
        {
            string name = s.CodeAddress.FullMethodName;
            if (name.StartsWith("BulkDispatch.", StringComparison.Ordinal))
            {
                return name;
            }
        }

        return null;
    }

    private static void Add(Dictionary<string, long> d, string key, long value) => d[key] = d.GetValueOrDefault(key) + value;

    private static void Top(string title, Dictionary<string, long> d, long total, Func<long, string> show)
    {
        Console.WriteLine($"-- {title}");
        foreach (var (k, v) in d.OrderByDescending(p => p.Value).Take(25))
        {
            Console.WriteLine(string.Create(C, $"  {100.0 * v / Math.Max(1, total),5:0.0}%  {show(v),10}  {k}"));
        }
    }
}
