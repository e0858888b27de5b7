using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using BulkDispatch.EndToEnd;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;

// Usage (from the repository root; docs/benchmarks.md, "End to end"):
//   dotnet run -c Release --project bench/BulkDispatch.EndToEnd -- [--sizes 10000,100000,1000000] [--baseline-sample 10000]
//       [--outage-events 2000] [--drain-events 100000] [--trace DIR] [--cli PATH] [--compare-cli PATH] [--drain-rounds 1]
//   --trace: dotnet-trace every flush process of the largest size into DIR; --cli: the bulkdispatch.dll to run
//   (default: src/Cli's build); --compare-cli: another build (e.g. before a change) whose drain runs alternate
//   with --cli's in the same run, for a before/after ratio under the same load.
//   dotnet run -c Release --project bench/BulkDispatch.EndToEnd -- analyze FILE.nettrace [...]   (top costs in BulkDispatch code)
var c = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] == "analyze")
{
    TraceAnalysis.Print(args[1..]);
    return 0;
}

long[] sizes = [10_000, 100_000, 1_000_000];
long baselineSample = 10_000;
long outageEvents = 2_000;
long drainEvents = 100_000;
int drainRounds = 1;
string? traceDirectory = null;
string? cliOverride = null;
string? compareCli = null;
bool drainOnly = false;
int[] drainWires = [1];
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--sizes": sizes = [.. args[++i].Split(',').Select(s => long.Parse(s, c))]; break;
        case "--baseline-sample": baselineSample = long.Parse(args[++i], c); break;
        case "--outage-events": outageEvents = long.Parse(args[++i], c); break;
        case "--drain-events": drainEvents = long.Parse(args[++i], c); break;
        case "--drain-rounds": drainRounds = int.Parse(args[++i], c); break;
        case "--cli": cliOverride = Path.GetFullPath(args[++i]); break;
        case "--compare-cli": compareCli = Path.GetFullPath(args[++i]); break;
        case "--drain-only": drainOnly = true; break;
        case "--drain-wire": drainWires = [.. args[++i].Split(',').Select(s => int.Parse(s, c))]; break;
        case "--trace": traceDirectory = Path.GetFullPath(args[++i]); Directory.CreateDirectory(traceDirectory); break;
        case "--help" or "-h":
            Console.WriteLine("""
                End-to-end benchmark: producer -> fauxqs -> `bulkdispatch flush` processes -> loopback Event API, beside the
                reference design (one SendMessage per event with a new client; 5 x 10 receives, delete before post, one
                post per one-minute tick), with the emulator's own ceiling measured in the same run. Figures and method:
                docs/benchmarks.md ("End to end").

                Usage: dotnet run -c Release --project bench/BulkDispatch.EndToEnd -- [options]
                       dotnet run -c Release --project bench/BulkDispatch.EndToEnd -- analyze FILE.nettrace [...]

                  --sizes N,N,...        events per size (default 10000,100000,1000000)
                  --baseline-sample N    events the reference design really runs; larger sizes are extrapolated (10000)
                  --outage-events N      events of the endpoint-outage side scenario (2000)
                  --drain-events N       events of the flush-alone drain (100000)
                  --drain-rounds N       drain rounds (1; alternating with --compare-cli when given)
                  --cli PATH             the bulkdispatch.dll to run (default: src/Cli's Release build)
                  --compare-cli PATH     another build (e.g. before a change) for a before/after ratio under the same load
                  --trace DIR            dotnet-trace every flush process of the largest size (with --drain-only: of the drain) into DIR
                  --drain-only           only the flush-alone drain (no ceiling, reference, sizes or outage)
                  --drain-wire 1,2       wire-format versions of the drain's backlog, alternating per round (1; version 2 is
                                         written with Core's CompressedMessageWriter and sent with bare SendMessageBatch)
                """);
            return 0;
        default: Console.Error.WriteLine($"Unknown argument {args[i]}; --help lists the options."); return 2;
    }
}

var total = Stopwatch.StartNew();
string root = FindRoot();
string cli = cliOverride ?? Path.Combine(root, "src", "Cli", "bin", new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "bulkdispatch.dll");
if (!File.Exists(cli))
{
    Console.Error.WriteLine($"{cli} is missing: build with `dotnet build -c Release bench/BulkDispatch.EndToEnd` (it builds src/Cli too).");
    return 2;
}

void Say(string line) => Console.WriteLine(line);
Say(string.Create(c, $"BulkDispatch end-to-end benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC: {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, node {NodeVersion()}; load average {LoadAverage()}"));
Say($"flush process: {cli}" + (compareCli is null ? "" : $"; compared with {compareCli}"));

// fauxqs keeps queues in Node's heap; the flush drains while the producer publishes, so a modest raise is enough.
Environment.SetEnvironmentVariable("NODE_OPTIONS", "--max-old-space-size=4096");
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // stop in order: the finally blocks stop the flush processes, the API and the emulator
    cancel.Cancel();
};
var ct = cancel.Token;
var workload = Workload.Load(root);
using var flushes = new FlushProcesses(cli, null);
using var compareFlushes = compareCli is null ? null : new FlushProcesses(compareCli, null);
using var tracedFlushes = traceDirectory is null ? null : new FlushProcesses(cli, traceDirectory);
await using var emulator = await TestEmulators.StartAsync(cancellationToken: ct);
await using var api = await LocalEventApi.StartAsync(ct);
api.ValidateSchema = false; // NJsonSchema on multi-MB bodies costs more CPU than the flush (docs/benchmarks.md)
api.RetainRequests = false; // count uuids, do not keep 2 GB of bodies
var faults = EventApiFaults.InjectInto(api); // the outage scenario
try
{
    var scenarios = new Scenarios(emulator, api, faults, workload, flushes, Say);
    var traced = tracedFlushes is null ? null : new Scenarios(emulator, api, faults, workload, tracedFlushes, Say);

    Say(string.Create(c, $"workload: the {workload.Templates} recorded C# SDK LogEvents cycled, uuids and visitor ids varied per round; {workload.TotalVisitors(1000) / 1000.0:0.00} visitors per event"));

    var results = new List<(Figures Product, Figures Baseline)>();
    (long ProductLost, long ProductEvents, long BaselineLost, long BaselineEvents) outageResult = default;
    (double SendEventsPerSecond, double DrainEventsPerSecond) ceiling = default;
    if (!drainOnly)
    {
        long ceilingEvents = Math.Min(sizes.Max(), 50_000);
        ceiling = await scenarios.CeilingAsync(ceilingEvents, ct);
        Say(string.Create(c, $"emulator ceiling ({ceilingEvents} events pre-encoded, bare clients): SendMessageBatch {ceiling.SendEventsPerSecond:N0} events/s, receive+DeleteMessageBatch drain {ceiling.DrainEventsPerSecond:N0} events/s; load {LoadAverage()}"));

        var baselineClock = Stopwatch.StartNew();
        var baseline = await scenarios.BaselineAsync(Math.Min(baselineSample, sizes.Max()), null, ct);
        Say(string.Create(c, $"reference design measured on {baseline.Events} events in {baselineClock.Elapsed.TotalSeconds:0.0} s (sends {baseline.PublishSeconds:0.0} s = {baseline.Events / baseline.PublishSeconds:N0} events/s, {baseline.Ticks} ticks back to back {baseline.FlushSeconds:0.0} s); load {LoadAverage()}"));

        foreach (long size in sizes)
        {
            bool trace = traced is not null && size == sizes.Max();
            var product = await (trace ? traced! : scenarios).ProductAsync(size, null, ct);
            var reference = size == baseline.Events ? baseline : baseline.ScaledTo(size);
            results.Add((product, reference));
            Report.PrintSize(Say, product, reference, ceiling);
            Say($"  load average {LoadAverage()}");
        }
    }
    if (drainEvents > 0)
    {
        var drainFlush = new List<(double Seconds, double Cpu, long Peak)>();
        var drainCompare = new List<(double Seconds, double Cpu, long Peak)>();
        Say(string.Create(c, $"flush alone: {drainEvents:N0} events published first (wire version {string.Join(" and ", drainWires)}), then `bulkdispatch flush` drains them ({drainRounds} round(s){(compareFlushes is null ? "" : ", alternating with --compare-cli")})"));
        var drainScenarios = drainOnly && traced is not null ? traced : scenarios;
        var drainRunner = drainOnly && tracedFlushes is not null ? tracedFlushes : flushes;
        for (int round = 1; round <= drainRounds; round++)
        {
            foreach (var (name, runner, wire) in drainWires.SelectMany(w => new[] { ("flush", drainRunner, w), ("compare", compareFlushes, w) }))
            {
                if (runner is null)
                {
                    continue;
                }

                var drain = await drainScenarios.DrainAsync(drainEvents, runner, ct, wire);
                (name == "flush" ? drainFlush : drainCompare).Add((drain.Seconds, drain.CpuSeconds, drain.PeakWorkingSetBytes));
                Say(string.Create(c, $"  round {round} {name} v{wire}: {drain.Seconds:0.00} s, {drainEvents / drain.Seconds:N0} events/s, CPU {drain.CpuSeconds:0.00} s ({1e6 * drain.CpuSeconds / drainEvents:0} µs per event), peak working set {drain.PeakWorkingSetBytes / 1048576.0:0} MiB, {drain.Processes} process(es); load {LoadAverage()}"));
            }
        }

        if (drainCompare.Count > 0)
        {
            static double Median(IEnumerable<double> v) => v.Order().ElementAt(v.Count() / 2);
            double ws = Median(drainFlush.Select(d => d.Seconds)), wc = Median(drainCompare.Select(d => d.Seconds));
            double cs = Median(drainFlush.Select(d => d.Cpu)), cc = Median(drainCompare.Select(d => d.Cpu));
            double ps = Median(drainFlush.Select(d => (double)d.Peak)), pc = Median(drainCompare.Select(d => (double)d.Peak));
            Say(string.Create(c, $"  medians, --cli / --compare-cli: wall {ws:0.00} / {wc:0.00} s (ratio {ws / wc:0.00}), CPU {cs:0.00} / {cc:0.00} s (ratio {cs / cc:0.00}), peak working set {ps / 1048576:0} / {pc / 1048576:0} MiB (ratio {ps / pc:0.00})"));
        }
    }

    if (outageEvents > 0 && !drainOnly)
    {
        Say(string.Create(c, $"outage scenario: {outageEvents} events, the endpoint answers 503 for 3 one-minute ticks (product: 3 flush runs during the outage, then runs until delivered)"));
        outageResult = await scenarios.OutageAsync(outageEvents, 3, ct);
        Say(string.Create(c, $"  events lost: BulkDispatch {outageResult.ProductLost} of {outageResult.ProductEvents}; reference design {outageResult.BaselineLost} of {outageResult.BaselineEvents} (deleted before the failed posts)"));
    }

    if (!drainOnly)
    {
        Report.PrintSummary(Say, results, ceiling, outageResult);
    }

    if (tracedFlushes is not null)
    {
        Say("traces: " + string.Join(" ", tracedFlushes.Traces));
    }

    Say(string.Create(c, $"total wall time {total.Elapsed.TotalSeconds:0} s; load average {LoadAverage()}"));
    return 0;
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    Say("Interrupted: the flush processes, the Event API and the emulator are stopped.");
    return 130;
}
finally
{
    flushes.KillAll();
    tracedFlushes?.KillAll();
    compareFlushes?.KillAll();
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "BulkDispatch.sln")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("Run from inside the BulkDispatch repository.");
}

static string LoadAverage()
{
    try
    {
        return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
    }
    catch (IOException)
    {
        return "n/a";
    }
}

static string NodeVersion()
{
    try
    {
        using var p = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
        string v = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return v;
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "not found";
    }
}
