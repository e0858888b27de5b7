using System.Diagnostics;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.EndToEnd;

/// <summary>
/// One drain of a queue filled beforehand: <see cref="Concurrent"/> flush processes were started at once on it
/// (then, if anything was left, more one after another). <see cref="Seconds"/> is wall time from the first start
/// to the last exit; <see cref="CpuSeconds"/> the sum over every process.
/// </summary>
internal sealed record DrainResult(
    long Events,
    int Concurrent,
    double Seconds,
    double CpuSeconds,
    IReadOnlyList<FlushProcessResult> Runs,
    long VisitorsExpected,
    long VisitorsDelivered,
    long Duplicates)
{
    public long PeakWorkingSetBytes => Runs.Max(r => r.PeakWorkingSetBytes);

    public double EventsPerSecond => Events / Seconds;

    /// <summary>Some run left messages undeleted and the drain waited for their leases to lapse: its time is not comparable.</summary>
    public bool WaitedForLeases { get; init; }
}

/// <summary>The scenarios that measure the flush processes alone: the queue is filled first, no producer runs meanwhile.</summary>
internal sealed partial class Scenarios
{
    private const int DrainVisibilitySeconds = 120;

    /// <summary>
    /// Publishes <paramref name="events"/> events with no flush running, then starts <paramref name="concurrent"/>
    /// flush processes of <paramref name="runner"/> at once on that queue (competing consumers: SQS leases each
    /// message to one receiver at a time). Each ends when its receives find the queue empty; should anything be
    /// left (a run that gave up on a transient failure), further runs follow one at a time, as the next tick would.
    /// </summary>
    public async Task<DrainResult> DrainAsync(long events, int concurrent, FlushProcesses runner, IReadOnlyDictionary<string, string>? extraSettings, CancellationToken ct, int? wireFormatVersion = null)
    {
        string queue = await PublishFirstAsync("d", events, wireFormatVersion, ct);
        long expected = workload.TotalUuids(events);
        var settings = FlushSettings(queue, extraSettings);
        var clock = Stopwatch.StartNew();
        var runs = new List<FlushProcessResult>(await Task.WhenAll(Enumerable.Range(0, concurrent).Select(_ => runner.RunAsync(settings, ct))));
        double seconds = clock.Elapsed.TotalSeconds;
        bool waited = false;
        if (api.Counts.DistinctUuids < expected)
        {
            // Say why: messages a run did not delete stay invisible until the visibility timeout.
            foreach (var r in runs)
            {
                say(string.Create(C, $"    not all delivered after the first {concurrent} run(s) ({api.Counts.DistinctUuids:N0} of {expected:N0} visitors): exit {r.ExitCode}, {r.MessagesReceived} received, {r.EventsDelivered} events delivered; {r.Outcome}"));
            }

            // Also when every run says "drained": a receive the flush abandoned (no answer within ReceiveWaitTime +
            // ReceiveTimeoutMargin, as on an overloaded emulator) may still have leased up to 10 messages.
            say(string.Create(C, $"    waiting {DrainVisibilitySeconds} s for the leases of undeleted or abandoned-receive messages to lapse; this drain's time is not comparable"));
            await Task.Delay(TimeSpan.FromSeconds(DrainVisibilitySeconds + 2), ct);
            waited = true;
        }

        while (api.Counts.DistinctUuids < expected && runs.Count < concurrent + 4)
        {
            var run = await runner.RunAsync(settings, ct);
            seconds += run.Seconds;
            runs.Add(run);
        }

        if (runs.Find(r => r.ExitCode is not (0 or 1)) is { } failed)
        {
            throw new InvalidOperationException($"A flush process exited with {failed.ExitCode}.");
        }

        if (api.Counts.DistinctUuids < expected)
        {
            throw new InvalidOperationException(string.Create(C, $"The drain delivered {api.Counts.DistinctUuids} of {expected} uuids."));
        }

        return new DrainResult(events, concurrent, seconds, runs.Sum(r => r.CpuSeconds), runs, expected, api.Counts.DistinctUuids, api.Counts.DuplicateUuids) { WaitedForLeases = waited };
    }

    /// <summary>
    /// One `bulkdispatch flush` of <paramref name="runner"/> on <paramref name="emptyQueue"/>: what a run costs
    /// when there is nothing to do (process start, JIT, settings, queue attributes, one empty long poll of
    /// ReceiveWaitTime = 1 s per receive loop, shutdown).
    /// </summary>
    public async Task<FlushProcessResult> EmptyRunAsync(string emptyQueue, FlushProcesses runner, IReadOnlyDictionary<string, string>? extraSettings, CancellationToken ct)
    {
        api.Reset();
        var run = await runner.RunAsync(FlushSettings(emptyQueue, extraSettings), ct);
        if (run.ExitCode != 0 || run.MessagesReceived != 0)
        {
            throw new InvalidOperationException(string.Create(C, $"A flush of an empty queue exited with {run.ExitCode} after receiving {run.MessagesReceived} messages."));
        }

        return run;
    }

    public Task<string> CreateEmptyQueueAsync(CancellationToken ct) => emulator.CreateQueueAsync(NewName("s"), visibilityTimeoutSeconds: 120, ct: ct);

    /// <summary>A new queue (with its dead-letter queue) holding <paramref name="events"/> events from the real producer; the Event API is reset.</summary>
    private async Task<string> PublishFirstAsync(string prefix, long events, int? wireFormatVersion, CancellationToken ct)
    {
        var (queue, _) = await emulator.CreateQueueWithDeadLetterQueueAsync(NewName(prefix), visibilityTimeoutSeconds: DrainVisibilitySeconds, ct: ct);
        api.Reset();
        using var sqs = emulator.CreateClient();
        await using var publisher = new SqsEventPublisher(new ProducerOptions { Sqs = { QueueUrl = queue }, OverflowPolicy = OverflowPolicy.Block, BlockTimeout = TimeSpan.FromSeconds(30), WireFormatVersion = wireFormatVersion ?? WireFormat.CompressedVersion }, sqs, NullLoggerFactory.Instance);
        for (long i = 0; i < events && !ct.IsCancellationRequested; i++)
        {
            publisher.TryPublish(workload.Url(i), "POST", Headers, workload.Body(i));
        }

        await publisher.FlushAsync(ct);
        return queue;
    }
}
