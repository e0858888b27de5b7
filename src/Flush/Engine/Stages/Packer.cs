using System.Threading.Channels;
using BulkDispatch.Core;
using BulkDispatch.Flush.Packing;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>
/// Grouping and packing. Reads decoded messages; writes requests of at most <c>MaxRequestBytes</c>, each holding
/// visitors of one group (same URL and header). A request goes out when it is full, when it has waited
/// <c>BatchLinger</c>, when open requests hold half the memory budget (the fullest first) or the messages held
/// fill it (all of them, or the receivers would stall), and when the run gives up. Completes its output, with
/// every request still open, when its input completes.
/// </summary>
internal sealed partial class Packer(int maxRequestBytes, TimeSpan linger, ByteBudget budget, InFlightLedger ledger, RunDeadlines deadlines, RunCounters counters, TimeProvider time, ILogger log, string runId)
{
    /// <summary>How often an idle packer looks at the linger limit.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(500);

    public async Task RunAsync(ChannelReader<DecodedMessage> input, ChannelWriter<PackedRequest<EventTracker>> output)
    {
        var packer = new RequestPacker<EventTracker>(maxRequestBytes);
        var closed = new List<PackedRequest<EventTracker>>();
        long lingerTicks = (long)(linger.TotalSeconds * time.TimestampFrequency);
        try
        {
            bool more = true;
            while (more)
            {
                more = await WaitForInputAsync(input);
                long now = time.GetTimestamp();
                while (input.TryRead(out var message))
                {
                    Pack(message, packer, closed, now);
                }

                // Held messages, not the budget's use: receives in progress reserve their worst case, which fills the
                // budget while they poll, and closing everything then sent requests a third full (issue 11's benchmark).
                if (!more || deadlines.GaveUp || ledger.HeldBytes >= budget.Limit)
                {
                    packer.CloseAll(closed);
                }
                else
                {
                    if (packer.OpenBytes >= budget.Limit / 2)
                    {
                        packer.CloseLargestUntil(budget.Limit / 4, closed);
                    }

                    packer.CloseOlderThan(now - lingerTicks, closed);
                }

                foreach (var request in closed)
                {
                    output.TryWrite(request);
                }

                closed.Clear();
            }
        }
        finally
        {
            output.TryComplete();
        }
    }

    /// <summary>False when the input is complete; true when something arrived or a tick passed.</summary>
    private async Task<bool> WaitForInputAsync(ChannelReader<DecodedMessage> input)
    {
        using var tick = new CancellationTokenSource(Tick, time);
        try
        {
            return await input.WaitToReadAsync(tick.Token);
        }
        catch (OperationCanceledException)
        {
            return true; // nothing arrived for a while: time to look at the linger limit
        }
    }

    private void Pack(DecodedMessage message, RequestPacker<EventTracker> packer, List<PackedRequest<EventTracker>> closed, long now)
    {
        int handed = 0;
        try
        {
            foreach (var e in message.Events)
            {
                string group = packer.GroupKey(e.Tracker.Decoded.Url, e.Parts);
                foreach (var visitor in e.Visitors)
                {
                    packer.Add(group, e.Tracker.Decoded.Url, e.Parts, new PackedVisitor<EventTracker>(visitor, e.Tracker), now, closed);
                    handed++;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug must not cost the run: what was not packed stays in the queue with its message, the rest goes on.
            LogUnexpected(log, runId, message.Message.MessageId, ex);
            counters.TransientFailure($"unexpected error on message {message.Message.MessageId}: {LogText.Escape(ex.Message)}");
            foreach (var e in message.Events)
            {
                for (int i = 0; i < e.Visitors.Count; i++)
                {
                    if (handed-- <= 0)
                    {
                        e.Tracker.MarkUndelivered();
                        e.Tracker.ReleaseVisitor();
                        ledger.Abandon(message.Message);
                    }
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: unexpected error while packing message {MessageId}; what was not packed stays in the queue")]
    private static partial void LogUnexpected(ILogger logger, string runId, string messageId, Exception ex);
}
