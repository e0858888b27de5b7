using System.Globalization;

namespace BulkDispatch.EndToEnd;

/// <summary>
/// The scenarios of the flush processes alone (flush alone, parallel drain, start-up), run round by round with
/// each build (<c>--cli</c>, then <c>--compare-cli</c> when given, alternating so both meet the same load); prints
/// each round and the medians, and keeps one line per scenario for the summary.
/// </summary>
internal sealed class FlushRounds(
    Scenarios scenarios,
    IReadOnlyList<(string Name, FlushProcesses Runner)> builds,
    IReadOnlyDictionary<string, string> flushSettings,
    Action<string> say,
    Func<string> load,
    int? compareWire = null,
    string conditions = "")
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public List<string> Summary { get; } = [];

    // A build from before version 2 cannot read it: its backlog is written in the version it reads (--compare-wire).
    private int? WireOf(string build) => build == "compare" ? compareWire : null;

    /// <summary>The flush alone: one process drains <paramref name="events"/> events published beforehand.</summary>
    public async Task DrainAsync(long events, int rounds, CancellationToken ct)
    {
        say(string.Create(C, $"flush alone: {events:N0} events published first, then `bulkdispatch flush` drains them ({rounds} round(s){Alternating})"));
        var byBuild = builds.ToDictionary(b => b.Name, _ => new List<DrainResult>());
        for (int round = 1; round <= rounds; round++)
        {
            foreach (var (name, runner) in builds)
            {
                var drain = await scenarios.DrainAsync(events, 1, runner, flushSettings, ct, WireOf(name));
                byBuild[name].Add(drain);
                say(string.Create(C, $"  round {round} {name}: {Describe(drain)}; load {load()}"));
            }
        }

        foreach (var (name, drains) in byBuild)
        {
            Summary.Add(string.Create(C, $"flush alone ({name}, {events:N0} events, median of {drains.Count}): {Median(drains, d => d.EventsPerSecond):N0} events/s, CPU {Median(drains, d => d.CpuSeconds):0.00} s ({1e6 * Median(drains, d => d.CpuSeconds) / events:0} µs per event), peak working set {Median(drains, d => d.PeakWorkingSetBytes) / 1048576:0} MiB"));
        }

        PrintRatios(byBuild, d => d.Seconds, d => d.CpuSeconds, d => d.PeakWorkingSetBytes);
    }

    /// <summary>
    /// The parallel drain: the same <paramref name="events"/> drained by one process, then (refilled) by
    /// <paramref name="processes"/> processes started at once on the same queue.
    /// </summary>
    public async Task ParallelAsync(long events, int processes, int rounds, (double Send, double Drain)? ceiling, CancellationToken ct)
    {
        say(string.Create(C, $"parallel drain: {events:N0} events published first, drained by 1 flush process, then refilled and drained by {processes} started at once on the same queue ({rounds} round(s){Alternating}); {conditions}"));
        var byBuild = builds.ToDictionary(b => b.Name, _ => (One: new List<DrainResult>(), Many: new List<DrainResult>()));
        for (int round = 1; round <= rounds; round++)
        {
            foreach (var (name, runner) in builds)
            {
                var one = await scenarios.DrainAsync(events, 1, runner, flushSettings, ct, WireOf(name));
                say(string.Create(C, $"  round {round} {name}, 1 process: {Describe(one)}; load {load()}"));
                var many = await scenarios.DrainAsync(events, processes, runner, flushSettings, ct, WireOf(name));
                say(string.Create(C, $"  round {round} {name}, {processes} processes: {Describe(many)}; {many.EventsPerSecond / one.EventsPerSecond:0.00}x the events/s of 1; load {load()}"));
                byBuild[name].One.Add(one);
                byBuild[name].Many.Add(many);
            }
        }

        foreach (var (name, (one, many)) in byBuild)
        {
            double rateOne = Median(one, d => d.EventsPerSecond), rateMany = Median(many, d => d.EventsPerSecond);
            long duplicates = one.Concat(many).Sum(d => d.Duplicates);
            long lost = one.Concat(many).Sum(d => d.VisitorsExpected - d.VisitorsDelivered);
            string bound = ceiling is { } c ? string.Create(C, $"; emulator's bare drain {c.Drain:N0} events/s") : "";
            Summary.Add(string.Create(C,
                $"parallel drain ({name}, {events:N0} events, median of {one.Count}; {conditions}): 1 process {rateOne:N0} events/s, CPU {Median(one, d => d.CpuSeconds):0.00} s, peak {Median(one, d => d.PeakWorkingSetBytes) / 1048576:0} MiB; {processes} processes {rateMany:N0} events/s ({rateMany / rateOne:0.00}x), CPU {Median(many, d => d.CpuSeconds):0.00} s in all, peak {Median(many, d => d.PeakWorkingSetBytes) / 1048576:0} MiB per process at most; duplicates {duplicates}, visitors lost {lost}{bound}"));
        }
    }

    /// <summary>
    /// Start-up: `bulkdispatch flush` on an empty queue, <paramref name="runs"/> times per build after one
    /// untimed warm-up run each (files in the page cache, as for every run after a host's first).
    /// </summary>
    public async Task StartupAsync(int runs, CancellationToken ct)
    {
        say(string.Create(C, $"start-up: `bulkdispatch flush` on an empty queue, {runs} run(s) per build after a warm-up run{Alternating}; CPU from the exited process's own counters, wall includes one empty 1 s long poll"));
        string queue = await scenarios.CreateEmptyQueueAsync(ct);
        var byBuild = builds.ToDictionary(b => b.Name, _ => new List<FlushProcessResult>());
        foreach (var (_, runner) in builds)
        {
            await scenarios.EmptyRunAsync(queue, runner, flushSettings, ct);
        }

        for (int run = 1; run <= runs; run++)
        {
            foreach (var (name, runner) in builds)
            {
                var r = await scenarios.EmptyRunAsync(queue, runner, flushSettings, ct);
                byBuild[name].Add(r);
                say(string.Create(C, $"  run {run} {name}: wall {r.Seconds:0.00} s, CPU {r.ReapedCpuSeconds:0.00} s, peak working set {r.PeakWorkingSetBytes / 1048576.0:0} MiB; load {load()}"));
            }
        }

        foreach (var (name, results) in byBuild)
        {
            Summary.Add(string.Create(C, $"start-up ({name}, flush of an empty queue, median of {results.Count}): wall {Median(results, r => r.Seconds):0.00} s (incl. a 1 s empty long poll), CPU {Median(results, r => r.ReapedCpuSeconds):0.00} s (runs: {string.Join(" ", results.Select(r => r.ReapedCpuSeconds.ToString("0.00", C)))})"));
        }

        PrintRatios(byBuild, r => r.Seconds, r => r.ReapedCpuSeconds, r => r.PeakWorkingSetBytes);
    }

    private string Alternating => builds.Count > 1 ? ", alternating with --compare-cli" : "";

    private static string Describe(DrainResult d)
    {
        string perProcess = string.Join(" / ", d.Runs.Select(r => string.Create(C, $"{r.EventsDelivered:N0} events in {r.MessagesReceived:N0} messages, {r.CpuSeconds:0.00} s CPU, {r.PeakWorkingSetBytes / 1048576.0:0} MiB")));
        return string.Create(C,
            $"{d.Seconds:0.00} s, {d.EventsPerSecond:N0} events/s, CPU {d.CpuSeconds:0.00} s ({1e6 * d.CpuSeconds / d.Events:0} µs per event), {d.Runs.Count} process(es) [{perProcess}], visitors {d.VisitorsDelivered:N0}/{d.VisitorsExpected:N0}, duplicates {d.Duplicates}{(d.WaitedForLeases ? " (WAITED for leases to lapse: time not comparable)" : "")}");
    }

    private void PrintRatios<T>(Dictionary<string, List<T>> byBuild, Func<T, double> wall, Func<T, double> cpu, Func<T, double> peak)
    {
        if (builds.Count < 2)
        {
            return;
        }

        var a = byBuild[builds[0].Name];
        var b = byBuild[builds[1].Name];
        double wa = Median(a, wall), wb = Median(b, wall), ca = Median(a, cpu), cb = Median(b, cpu), pa = Median(a, peak), pb = Median(b, peak);
        string line = string.Create(C, $"medians, --cli / --compare-cli: wall {wa:0.00} / {wb:0.00} s (ratio {wa / wb:0.00}), CPU {ca:0.00} / {cb:0.00} s (ratio {ca / cb:0.00}), peak working set {pa / 1048576:0} / {pb / 1048576:0} MiB (ratio {pa / pb:0.00})");
        say("  " + line);
        Summary.Add("  " + line);
    }

    private static double Median<T>(IEnumerable<T> values, Func<T, double> of)
    {
        var sorted = values.Select(of).Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
