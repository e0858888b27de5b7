using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Packing;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine;

/// <summary>How many messages the queue holds, for the report (null when SQS does not say).</summary>
internal interface IQueueDepth
{
    Task<long?> ApproximateDepthAsync(CancellationToken cancellationToken);
}

/// <summary>The run's doors to the queue: one per stage that calls SQS, and the dead-letter queue (or its stand-in).</summary>
internal sealed record QueueSeams(IMessageSource Source, IMessageDeleter Deleter, IVisibilityChanger Visibility, IDeadLetterQueue DeadLetters, IQueueDepth Depth);

/// <summary>One run's settings: the flush settings, the queue's own limits (its visibility timeout and MaximumMessageSize), the time budget, and what kind of run it is.</summary>
internal sealed record RunSettings(
    int ReceiveConcurrency,
    TimeSpan ReceiveWaitTime,
    int MaxMessagesPerRun,
    long MaxBufferedBytes,
    TimeSpan BatchLinger,
    int SendConcurrency,
    TimeSpan MaxDuration,
    TimeSpan SendGrace,
    int VisibilityTimeoutSeconds,
    int MaxMessageBytes,
    AdmissionRules Admission,
    bool DryRun,
    string RunId);

/// <summary>
/// One flush. The coordinator only wires the stages: it creates their channels, starts them, awaits them in
/// order and writes the report. Each stage is a small type with its own contract (see each one):
/// <code>
/// Receiver → Admission → Packer → Sender    the data path
///               ↓                    ↓
///               └──→ DeadLetterer ←──┘      permanent failures
/// InFlightLedger → Deleter                  a message whose every part was accepted or dead-lettered
/// VisibilityKeeper                          beside it all: extends the leases of held messages
/// </code>
/// A dry run differs only by its sinks: requests are listed, not sent; dead letters counted, not placed;
/// and the messages, all kept, are made visible again at the end.
/// </summary>
internal sealed partial class FlushRun(QueueSeams queue, IRequestSink eventApi, RunSettings settings, TimeProvider time, RunCounters counters, ILogger log)
{
    private ExceptionDispatchInfo? _stageFailure;

    /// <summary>Called about twice a second with the run's counts so far (for a progress line).</summary>
    public Action<FlushProgress>? Progress { get; init; }

    /// <summary>
    /// Runs every stage and reports. A stage that fails (a configuration error mid-run, e.g. Key Vault refusing the
    /// credentials when they are read again) aborts the run: the other stages end at once, nothing more is deleted
    /// (held messages come back after their visibility timeout), and the failure is rethrown once all have ended.
    /// </summary>
    public async Task<FlushReport> RunAsync(DateTimeOffset startedAt, long startTimestamp, CancellationToken hostToken)
    {
        string runId = settings.RunId;
        var dryRun = settings.DryRun ? new DryRunRequestSink() : null;
        IRequestSink requestSink = dryRun ?? eventApi;
        IDeadLetterQueue deadLetterQueue = settings.DryRun ? new DryRunDeadLetters() : queue.DeadLetters;
        IKeptMessageSink kept = settings.DryRun ? new ReleaseKeptMessagesAtEnd(queue.Visibility, log, runId) : LeaveKeptMessages.Instance;

        using var deadlines = new RunDeadlines(settings.MaxDuration, settings.SendGrace, time, log, runId, hostToken);
        var budget = new ByteBudget(settings.MaxBufferedBytes);
        var received = Channel.CreateBounded<InFlightMessage>(new BoundedChannelOptions(100) { SingleReader = true });
        var decoded = Channel.CreateBounded<DecodedMessage>(new BoundedChannelOptions(100) { SingleReader = true, SingleWriter = true });
        var requests = Channel.CreateUnbounded<PackedRequest<EventTracker>>(new UnboundedChannelOptions { SingleWriter = true });
        var deadLetters = Channel.CreateUnbounded<DeadLetter>();
        var deletions = Channel.CreateUnbounded<InFlightMessage>();
        var ledger = new InFlightLedger(budget, deletions.Writer, kept);

        var receiver = new Receiver(queue.Source, ledger, budget, ReceiveSettings(), deadlines, counters, time);
        var admission = new Admission(settings.Admission, ledger, counters, log, runId);
        var packer = new Packer(settings.Admission.MaxRequestBytes, settings.BatchLinger, budget, ledger, deadlines, counters, time, log, runId);
        var sender = new Sender(requestSink, settings.SendConcurrency, ledger, deadlines, counters, log, runId);
        var deadLetterer = new DeadLetterer(deadLetterQueue, ledger, deadlines, counters, log, runId);
        var deleter = new Deleter(queue.Deleter, ledger, deadlines, counters, time, log, runId);
        var visibility = new VisibilityKeeper(queue.Visibility, ledger, settings.VisibilityTimeoutSeconds, time, log, runId);

        using var sideline = new CancellationTokenSource();
        var leases = Task.Run(() => Guarded(() => visibility.RunAsync(sideline.Token), deadlines), CancellationToken.None);
        var progress = Task.Run(() => ReportProgressAsync(ledger, startTimestamp, sideline.Token), CancellationToken.None);

        // Admission and packing take turns on one exclusive scheduler, as one thread's worth of CPU: run side by
        // side they took CPU from the receivers, whose AWS SDK parses large responses while they stream in, and the
        // flush used 10-25 % more CPU per event (docs/benchmarks.md). Neither blocks, so taking turns cannot stall.
        var assembly = new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler;

        // receive → admit (decode) → pack → send; dead letters and deletions alongside.
        var receiving = Task.Run(() => Guarded(() => receiver.RunAsync(received.Writer), deadlines), CancellationToken.None);
        var admitting = Task.Factory.StartNew(() => admission.RunAsync(received.Reader, decoded.Writer, deadLetters.Writer), CancellationToken.None, TaskCreationOptions.None, assembly).Unwrap();
        var packing = Task.Factory.StartNew(() => packer.RunAsync(decoded.Reader, requests.Writer), CancellationToken.None, TaskCreationOptions.None, assembly).Unwrap();
        var sending = Task.Run(() => sender.RunAsync(requests.Reader, deadLetters.Writer), CancellationToken.None);
        var deadLettering = Task.Run(() => Guarded(() => deadLetterer.RunAsync(deadLetters.Reader), deadlines), CancellationToken.None);
        var deleting = Task.Run(() => Guarded(() => deleter.RunAsync(deletions.Reader), deadlines), CancellationToken.None);

        await Task.WhenAll(receiving, admitting, packing, sending);
        deadLetters.Writer.TryComplete(); // its writers, admission and the sender, are done
        await deadLettering;
        deletions.Writer.TryComplete(); // every part of every message is resolved
        await deleting;
        await sideline.CancelAsync();
        await Task.WhenAll(leases, progress);
        await Guarded(() => kept.FinishAsync(deadlines.Settling), deadlines);
        long? left = null;
        await Guarded(async () => left = await queue.Depth.ApproximateDepthAsync(deadlines.Settling), deadlines);
        _stageFailure?.Throw();

        var stop = deadlines.GaveUp ? FlushStopReason.TransientFailure : receiver.StopReason;
        return Report(startedAt, time.GetElapsedTime(startTimestamp), stop, left, dryRun?.Planned ?? []);
    }

    /// <summary>
    /// Runs a stage that calls SQS: a failure it does not handle itself (one retrying cannot fix, such as a
    /// configuration error from the credentials) is kept for <see cref="RunAsync"/> to rethrow, and aborts the run.
    /// </summary>
    private async Task Guarded(Func<Task> stage, RunDeadlines deadlines)
    {
        try
        {
            await stage();
        }
        catch (Exception ex)
        {
            if (Interlocked.CompareExchange(ref _stageFailure, ExceptionDispatchInfo.Capture(ex), null) is null)
            {
                LogAborted(log, settings.RunId, ex is BulkDispatchConfigurationException configuration ? string.Join(" ", configuration.Errors) : ex.Message);
            }

            deadlines.Abort();
        }
    }

    private ReceiveSettings ReceiveSettings() => new(
        settings.ReceiveConcurrency,
        settings.ReceiveWaitTime,
        settings.MaxMessageBytes,
        settings.VisibilityTimeoutSeconds,
        settings.MaxMessagesPerRun);

    private FlushReport Report(DateTimeOffset startedAt, TimeSpan duration, FlushStopReason stop, long? left, IReadOnlyList<PlannedRequest> planned)
    {
        long received = counters.MessagesReceived;
        long deleted = counters.MessagesDeleted;
        long transient = counters.TransientFailures;
        long abandoned = counters.AbandonedReceives;
        return new FlushReport
        {
            RunId = settings.RunId,
            StartedAt = startedAt,
            Duration = duration,
            // Complete means drained: the queue answered empty, no receive was abandoned in flight (SQS may have
            // leased messages to it), and everything received was deleted (or, in a dry run, would have been) with no
            // transient failure. A run cut short by a limit is not complete.
            Complete = stop == FlushStopReason.QueueEmpty && abandoned == 0 && transient == 0 && (settings.DryRun || deleted == received),
            StopReason = stop,
            DryRun = settings.DryRun,
            MessagesReceived = received,
            MessagesDeleted = deleted,
            EventsReceived = counters.EventsReceived,
            EventsDelivered = counters.EventsDelivered,
            VisitorsDelivered = counters.VisitorsDelivered,
            RequestsSent = counters.RequestsSent,
            RequestsAccepted = counters.RequestsAccepted,
            BytesSent = counters.BytesSent,
            DeadLettered = counters.DeadLetteredByReason,
            TransientFailures = transient,
            AbandonedReceives = abandoned,
            MessagesMaybeLeased = counters.MessagesMaybeLeased,
            LastFailure = counters.LastFailure,
            ApproximateMessagesLeft = left,
            PlannedRequests = planned,
        };
    }

    private async Task ReportProgressAsync(InFlightLedger ledger, long startTimestamp, CancellationToken stop)
    {
        if (Progress is null)
        {
            return;
        }

        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // The messages held, not the budget's use: a long poll in progress reserves its worst case, which the
            // line showed as held ("holding 65536 KiB") after everything was deleted.
            Progress(counters.Progress(time.GetElapsedTime(startTimestamp), ledger.HeldBytes));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: stopping at once: {Failure}. Nothing more is received or deleted; held messages come back after their visibility timeout")]
    private static partial void LogAborted(ILogger logger, string runId, string failure);
}
