using System.Globalization;
using System.Threading.Channels;
using BulkDispatch.Flush.Reporting;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>Where the receiver gets messages.</summary>
internal interface IMessageSource
{
    /// <summary>
    /// One long-poll receive of at most <paramref name="maxMessages"/>, with its own timeout and retries; empty when the
    /// poll ended with nothing. <paramref name="abandoned"/> is called for each attempt given up while SQS may have been
    /// serving it (timed out, or cancelled in flight): up to <paramref name="maxMessages"/> messages may then be leased
    /// to nobody until their visibility timeout passes.
    /// </summary>
    /// <exception cref="QueueCallException">SQS refused, or could not be reached after the retries.</exception>
    Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, int waitSeconds, Action abandoned, CancellationToken cancellationToken);
}

/// <summary>How the receiver asks: its loops, its long poll, and the size of the largest message the queue takes.</summary>
internal sealed record ReceiveSettings(int Loops, TimeSpan WaitTime, int MaxMessageBytes, int VisibilityTimeoutSeconds, int MaxMessages);

/// <summary>
/// Receiving. Reads the queue only; writes every received message, admitted to the ledger, to its output.
/// Parallel long-poll loops; each first reserves what its messages may weigh (<c>MaxMessageBytes</c> each, or what
/// recent messages with their decompressed payloads weighed) from the memory budget and its share of the message
/// quota (each receive has its own timeout and retries: the source's). A loop ends when a receive answers empty,
/// the quota is spent, <see cref="RunDeadlines.Receiving"/> is cancelled, or a receive failed for good (the run
/// then gives up). The output completes when every loop has ended. A receive attempt abandoned in flight is counted
/// (<see cref="RunCounters.ReceiveAbandoned"/>): what SQS may have leased to it is still in the queue, so the run
/// cannot call the queue drained even when every loop was then answered empty.
/// </summary>
internal sealed class Receiver(IMessageSource source, InFlightLedger ledger, ByteBudget budget, ReceiveSettings settings, RunDeadlines deadlines, RunCounters counters, TimeProvider time)
{
    private readonly ReceiveQuota _quota = new(settings.MaxMessages);
    private int _emptyLoops, _deferredLoops;
    private volatile bool _quotaSpent;

    /// <summary>Why receiving ended, once <see cref="RunAsync"/> has completed (a give-up is the run's to add).</summary>
    public FlushStopReason StopReason =>
        _quotaSpent ? FlushStopReason.MessageLimit
        : _emptyLoops > 0 && _emptyLoops + _deferredLoops == settings.Loops ? FlushStopReason.QueueEmpty
        : deadlines.HostCancelled ? FlushStopReason.Cancelled
        : FlushStopReason.MaxDuration;

    public async Task RunAsync(ChannelWriter<InFlightMessage> output)
    {
        try
        {
            await Task.WhenAll(Enumerable.Range(0, settings.Loops).Select(_ => Task.Run(() => LoopAsync(output))));
        }
        finally
        {
            output.TryComplete();
        }
    }

    private async Task LoopAsync(ChannelWriter<InFlightMessage> output)
    {
        var stop = deadlines.Receiving;
        int waitSeconds = (int)Math.Ceiling(settings.WaitTime.TotalSeconds);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await budget.WaitForRoomAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // Room is reserved before asking, so parallel loops cannot bring in much more than the budget between
            // them; what the messages really weigh (a version-2 message: its text and its declared payload) replaces
            // the reservation once they are here. A message weighs at most MaxMessageBytes, or, compressed, what
            // recent messages weighed (a receive may bring more only when payloads suddenly grow: at most
            // Loops x 10 x the reader's payload limit).
            long unit = Math.Max(settings.MaxMessageBytes, ledger.TypicalMessageBytes);
            int units = budget.Reserve(unit, 10);
            long reserved = units * unit;
            int want = _quota.Take(units);
            if (want == 0)
            {
                budget.Return(reserved);
                if (_quota.Spent)
                {
                    _quotaSpent = true;
                }
                else
                {
                    Interlocked.Increment(ref _deferredLoops); // the loops holding the last of the quota go on
                }

                return;
            }

            IReadOnlyList<ReceivedMessage> messages;
            long requestedAt;
            try
            {
                requestedAt = time.GetTimestamp(); // SQS starts the visibility clock after this: a safe lower bound
                messages = await source.ReceiveAsync(want, waitSeconds, () => Abandoned(want, stop), stop);
            }
            catch (Exception ex) when (ex is OperationCanceledException or QueueCallException)
            {
                _quota.GiveBack(want);
                budget.Return(reserved);
                if (stop.IsCancellationRequested)
                {
                    return; // the run's deadline, not SQS
                }

                string what = ex is QueueCallException { Fatal: true } fatal
                    ? $"SQS refused the receive ({fatal.Kind}): {fatal.Message}"
                    : $"SQS receives keep failing: {Describe(ex)}";
                counters.TransientFailure(what);
                deadlines.GiveUp(what);
                return;
            }

            _quota.GiveBack(want - messages.Count);
            if (messages.Count == 0)
            {
                // Long polling asks every SQS server, so an empty answer means this loop has drained the queue (but for
                // what an abandoned receive may have leased: the report says so).
                budget.Return(reserved);
                Interlocked.Increment(ref _emptyLoops);
                return;
            }

            long leaseUntil = requestedAt + (long)(settings.VisibilityTimeoutSeconds * time.TimestampFrequency);
            _quota.Received(messages.Count);
            counters.Received(messages.Count);
            foreach (var message in messages)
            {
                await output.WriteAsync(ledger.Admit(message, leaseUntil), CancellationToken.None);
            }

            budget.Return(reserved);
        }
    }

    private void Abandoned(int asked, CancellationToken stop)
    {
        // Cancelled at the run's stop: the stop reason already says the queue was not drained; a timeout needs saying.
        bool cancelled = stop.IsCancellationRequested;
        string? what = cancelled ? null : string.Create(
            CultureInfo.InvariantCulture,
            $"a receive got no answer within BulkDispatch__Flush__ReceiveWaitTime + ReceiveTimeoutMargin and was abandoned; SQS may have served it: up to {asked} messages may reappear after the queue's VisibilityTimeout ({settings.VisibilityTimeoutSeconds} s)");
        counters.ReceiveAbandoned(asked, what);
    }

    private static string Describe(Exception ex) => ex switch
    {
        QueueCallException failure => $"a receive failed ({failure.Kind}: {failure.Message})",
        _ => $"a receive failed ({ex.GetType().Name}: {ex.Message})",
    };
}

/// <summary>
/// <c>MaxMessagesPerRun</c> shared by the receive loops: each takes its share before asking, so between them they
/// never ask for more than the limit (0: no limit).
/// </summary>
internal sealed class ReceiveQuota(int limit)
{
    private long _taken;
    private long _received;

    /// <summary>Every message the limit allows has been received.</summary>
    public bool Spent => limit > 0 && Interlocked.Read(ref _received) >= limit;

    /// <summary>Takes up to <paramref name="most"/> of what is left; 0 when nothing is.</summary>
    public int Take(int most)
    {
        if (limit <= 0)
        {
            return most;
        }

        while (true)
        {
            long taken = Interlocked.Read(ref _taken);
            int want = (int)Math.Clamp(limit - taken, 0, most);
            if (want == 0 || Interlocked.CompareExchange(ref _taken, taken + want, taken) == taken)
            {
                return want;
            }
        }
    }

    /// <summary>Returns what a receive took but did not get.</summary>
    public void GiveBack(int unused)
    {
        if (limit > 0 && unused > 0)
        {
            Interlocked.Add(ref _taken, -unused);
        }
    }

    public void Received(int count) => Interlocked.Add(ref _received, count);
}
