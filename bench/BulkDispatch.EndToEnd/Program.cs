using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using BulkDispatch.EndToEnd;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;

// Usage (from the repository root; docs/benchmarks.md, "End to end"):
//   dotnet run -c Release --project bench/BulkDispatch.EndToEnd -- [--sizes 10000,100000,1000000] [--baseline-sample 10000]
//       [--outage-events 2000] [--drain-events 100000] [--trace DIR] [--cli PATH] [--compare-cli PATH] [--drain-rounds 1]
//       [--parallel-events 100000] [--parallel-processes 2] [--startup-runs 5] [--flush-set NAME=VALUE] [--event-api-latency MS]
//       [--only ceiling,sizes,drain,parallel,startup,outage]
//   --trace: dotnet-trace every flush process of the largest size into DIR; --cli: the bulkdispatch.dll to run
//   (default: src/Cli's build); --compare-cli: another build (e.g. before a change) whose flush-alone, parallel-drain
//   and start-up runs alternate with --cli's in the same run, for a before/after ratio under the same load.
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
int? compareWire = null;
long parallelEvents = 100_000;
int parallelProcesses = 2;
int startupRuns = 5;
var eventApiLatency = TimeSpan.Zero;
var flushSettings = new Dictionary<string, string>(StringComparer.Ordinal);
string[] scenarioNames = ["ceiling", "sizes", "drain", "parallel", "startup", "outage"];
var only = new HashSet<string>(scenarioNames, StringComparer.Ordinal);
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--sizes": sizes = [.. args[++i].Split(',').Select(s => long.Parse(s, c))]; break;
        case "--baseline-sample": baselineSample = long.Parse(args[++i], c); break;
        case "--outage-events": outageEvents = long.Parse(args[++i], c); break;
        case "--drain-events": drainEvents = long.Parse(args[++i], c); break;
        case "--drain-rounds": drainRounds = int.Parse(args[++i], c); break;
        case "--parallel-events": parallelEvents = long.Parse(args[++i], c); break;
        case "--parallel-processes": parallelProcesses = int.Parse(args[++i], c); break;
        case "--startup-runs": startupRuns = int.Parse(args[++i], c); break;
        case "--event-api-latency": eventApiLatency = TimeSpan.FromMilliseconds(int.Parse(args[++i], c)); break;
        case "--flush-set":
            var pair = args[++i].Split('=', 2);
            if (pair.Length != 2)
            {
                Console.Error.WriteLine($"--flush-set {args[i]}: expected NAME=VALUE, e.g. BulkDispatch__Flush__ReceiveConcurrency=4.");
                return 2;
            }

            flushSettings[pair[0]] = pair[1];
            break;
        case "--only":
            only = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            if (only.Except(scenarioNames).FirstOrDefault() is { } unknown)
            {
                Console.Error.WriteLine($"--only: unknown scenario {unknown}; the scenarios are {string.Join(",", scenarioNames)}.");
                return 2;
            }

            break;
        case "--cli": cliOverride = Path.GetFullPath(args[++i]); break;
        case "--compare-cli": compareCli = Path.GetFullPath(args[++i]); break;
        case "--compare-wire": compareWire = int.Parse(args[++i], c); break;
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
                  --drain-rounds N       rounds of the flush-alone and parallel drains (1; alternating with --compare-cli)
                  --parallel-events N    events of the parallel drain: 1 flush process, then N processes at once (100000)
                  --parallel-processes N flush processes started at once in the parallel drain (2)
                  --startup-runs N       runs of `flush` on an empty queue per build in the start-up scenario (5)
                  --event-api-latency MS the loopback Event API answers each request of the flush-alone, parallel and
                                         start-up scenarios MS ms after it arrived, as a remote API would (0: at once)
                  --flush-set NAME=VALUE a setting for the flush processes of the flush-alone, parallel and start-up
                                         scenarios (repeatable), e.g. BulkDispatch__Flush__ReceiveConcurrency=4
                  --only LIST            run only these scenarios: ceiling, sizes (with the reference design and the
                                         ceiling), drain (flush alone), parallel, startup, outage (default: all)
                  --cli PATH             the bulkdispatch.dll to run (default: src/Cli's Release build)
                  --compare-cli PATH     another build (e.g. before a change, or a ReadyToRun publish) whose flush-alone,
                                         parallel-drain and start-up runs alternate with --cli's, for ratios under the same load
                  --compare-wire N       the wire-format version the producer writes for --compare-cli's drains (a build from
                                         before version 2 reads only 1); --cli's drains get the producer's default (2)
                  --trace DIR            dotnet-trace every flush process of the largest size into DIR
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

    bool runSizes = only.Contains("sizes");
    (double Send, double Drain)? ceiling = null;
    if (runSizes || only.Contains("ceiling") || only.Contains("parallel"))
    {
        // Version-2 messages carry about 480 events each: fewer than 200,000 events make too few requests to time.
        long ceilingEvents = Math.Min(runSizes ? sizes.Max() : Math.Max(parallelEvents, 1_000), 200_000);
        var measured = await scenarios.CeilingAsync(ceilingEvents, ct);
        ceiling = (measured.SendEventsPerSecond, measured.DrainEventsPerSecond);
        Say(string.Create(c, $"emulator ceiling ({ceilingEvents} events pre-encoded as version-2 messages, bare clients): SendMessageBatch {measured.SendEventsPerSecond:N0} events/s, receive+DeleteMessageBatch drain {measured.DrainEventsPerSecond:N0} events/s; load {LoadAverage()}"));
    }

    var results = new List<(Figures Product, Figures Baseline)>();
    if (runSizes)
    {
        var baselineClock = Stopwatch.StartNew();
        var baseline = await scenarios.BaselineAsync(Math.Min(baselineSample, sizes.Max()), null, ct);
        Say(string.Create(c, $"reference design measured on {baseline.Events} events in {baselineClock.Elapsed.TotalSeconds:0.0} s (sends {baseline.PublishSeconds:0.0} s = {baseline.Events / baseline.PublishSeconds:N0} events/s, {baseline.Ticks} ticks back to back {baseline.FlushSeconds:0.0} s); load {LoadAverage()}"));
        foreach (long size in sizes)
        {
            bool trace = traced is not null && size == sizes.Max();
            var product = await (trace ? traced! : scenarios).ProductAsync(size, null, ct);
            var reference = size == baseline.Events ? baseline : baseline.ScaledTo(size);
            results.Add((product, reference));
            Report.PrintSize(Say, product, reference, ceiling!.Value);
            Say($"  load average {LoadAverage()}");
        }
    }

    var builds = new List<(string, FlushProcesses)> { ("flush", flushes) };
    if (compareFlushes is not null)
    {
        builds.Add(("compare", compareFlushes));
    }

    // The real Event API is tens to hundreds of ms away: with the loopback one answering at once, a flush process is
    // bound by CPU and the shared cores, never by waiting on its requests. The delay is the server's (per request).
    string conditions = string.Join("; ", flushSettings.Select(p => $"{p.Key}={p.Value}").Prepend(string.Create(c, $"Event API latency {eventApiLatency.TotalMilliseconds:0} ms")));
    faults.Policy = eventApiLatency > TimeSpan.Zero ? _ => EventApiFault.Delay(eventApiLatency) : null;
    var rounds = new FlushRounds(scenarios, builds, flushSettings, Say, LoadAverage, compareWire, conditions);
    if (only.Contains("drain") && drainEvents > 0)
    {
        await rounds.DrainAsync(drainEvents, drainRounds, ct);
    }

    if (only.Contains("parallel") && parallelEvents > 0)
    {
        await rounds.ParallelAsync(parallelEvents, parallelProcesses, drainRounds, ceiling, ct);
    }

    if (only.Contains("startup") && startupRuns > 0)
    {
        await rounds.StartupAsync(startupRuns, ct);
    }

    faults.Policy = null; // the outage scenario sets its own answers
    (long ProductLost, long ProductEvents, long BaselineLost, long BaselineEvents)? outageResult = null;
    if (only.Contains("outage") && outageEvents > 0)
    {
        Say(string.Create(c, $"outage scenario: {outageEvents} events, the endpoint answers 503 for 3 one-minute ticks (product: 3 flush runs during the outage, then runs until delivered)"));
        outageResult = await scenarios.OutageAsync(outageEvents, 3, ct);
        var lost = outageResult.Value;
        Say(string.Create(c, $"  events lost: BulkDispatch {lost.ProductLost} of {lost.ProductEvents}; reference design {lost.BaselineLost} of {lost.BaselineEvents} (deleted before the failed posts)"));
    }

    Report.PrintSummary(Say, results, ceiling, outageResult, rounds.Summary);
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
