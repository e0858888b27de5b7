using System.Globalization;
using System.Text;

namespace BulkDispatch.Soak;

/// <summary>The figures of one soak and everything it found wrong (nothing, when it passed).</summary>
internal sealed record SoakResult
{
    public required SoakOptions Options { get; init; }

    public int Events { get; init; }

    public int Visitors { get; init; }

    public int Uuids { get; init; }

    public int MarkedVisitors { get; init; }

    /// <summary>Uuids accepted by the Event API at least once.</summary>
    public int AcceptedUuids { get; init; }

    /// <summary>Accepted deliveries beyond the first per uuid (Optimizely drops these by uuid).</summary>
    public long Duplicates { get; init; }

    /// <summary>Uuids found in the dead-letter queue.</summary>
    public int DeadLetteredUuids { get; init; }

    /// <summary>Dead-lettered copies beyond the first per uuid.</summary>
    public int DeadLetterDuplicates { get; init; }

    public int DeadLetterMessages { get; init; }

    public int Missing { get; init; }

    public int FlushRuns { get; init; }

    public int Kills { get; init; }

    public int KillsBetweenPostAndDelete { get; init; }

    public IReadOnlyDictionary<string, int> ExitCodes { get; init; } = new Dictionary<string, int>();

    public IReadOnlyDictionary<string, int> DuplicatesByCause { get; init; } = new Dictionary<string, int>();

    public IReadOnlyDictionary<string, int> FaultsInjected { get; init; } = new Dictionary<string, int>();

    public int EventApiRequests { get; init; }

    public int EmulatorRestarts { get; init; }

    public long PeakFlushWorkingSet { get; init; }

    public long PeakProducerBuffered { get; init; }

    public int ProducerCapacity { get; init; }

    public long ProducerSendRequests { get; init; }

    public TimeSpan WallTime { get; init; }

    public IReadOnlyList<string> Violations { get; init; } = [];

    public bool Passed => Violations.Count == 0;

    /// <summary>The figures as text, one topic a line.</summary>
    public string ToText()
    {
        var ic = CultureInfo.InvariantCulture;
        int transient = FaultsInjected.Where(p => p.Key != SoakFaults.Reject400).Sum(p => p.Value);
        var text = new StringBuilder();
        text.AppendLine(ic, $"Fault soak, seed {Options.Seed}: {(Passed ? "PASSED" : "FAILED")} in {WallTime.TotalSeconds:0.0} s wall time.");
        text.AppendLine(ic, $"  events:        {Events} SDK events published, {Visitors} visitors, {Uuids} uuids ({MarkedVisitors} visitors marked for rejection)");
        text.AppendLine(ic, $"  delivered:     {AcceptedUuids} uuids accepted, {Duplicates} duplicate deliveries; {DeadLetteredUuids} uuids dead-lettered in {DeadLetterMessages} messages ({DeadLetterDuplicates} duplicates); {Missing} missing");
        text.AppendLine(ic, $"  duplicates:    {Describe(DuplicatesByCause)}");
        text.AppendLine(ic, $"  flush runs:    {FlushRuns} processes, {Kills} killed and survived ({KillsBetweenPostAndDelete} between a POST and its delete); exit codes of the rest: {Describe(ExitCodes)}");
        int rejected = FaultsInjected.GetValueOrDefault(SoakFaults.Reject400);
        int unmarked = EventApiRequests - rejected;
        text.AppendLine(ic, $"  faults:        {transient + rejected} of {EventApiRequests} Event API requests: {rejected} with a marked visitor answered 400, {transient} of the other {unmarked} ({(unmarked == 0 ? 0 : 100.0 * transient / unmarked):0.0}%) a transient fault: {Describe(FaultsInjected)}");
        text.AppendLine(ic, $"  emulator:      {EmulatorRestarts} restart(s) while publishing (graceful stop with a state snapshot; fauxqs has no persistence)");
        text.AppendLine(ic, $"  memory:        flush peak working set {Mb(PeakFlushWorkingSet)} (bound {Mb(Options.FlushMemoryBoundBytes)}; MaxBufferedBytes {Mb(Options.FlushMaxBufferedBytes)}, GC heap limit {(Options.FlushGcHeapLimitBytes > 0 ? Mb(Options.FlushGcHeapLimitBytes) : "none")}); producer peak buffer {PeakProducerBuffered} of {ProducerCapacity} events, {ProducerSendRequests} SendMessageBatch requests");
        foreach (var violation in Violations)
        {
            text.AppendLine("  VIOLATION: " + violation);
        }

        return text.ToString();
    }

    private static string Describe(IReadOnlyDictionary<string, int> counts) =>
        counts.Count == 0 ? "none" : string.Join(", ", counts.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}: {p.Value}")));

    private static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MB");
}
