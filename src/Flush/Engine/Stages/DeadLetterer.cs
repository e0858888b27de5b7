using System.Text;
using System.Threading.Channels;
using BulkDispatch.Core;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>Something to put on the dead-letter queue, and the message (and event) it belongs to.</summary>
internal sealed record DeadLetter(string Body, string Reason, string Detail, InFlightMessage Owner, EventTracker? Event);

/// <summary>Where dead letters go: the dead-letter queue, nowhere (none configured), or a dry run's count.</summary>
internal interface IDeadLetterQueue
{
    /// <summary>Places a batch (at most 10 entries, 256 KiB); one result per entry, in order.</summary>
    /// <exception cref="QueueCallException">The whole call failed.</exception>
    Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken);
}

/// <summary>
/// Dead-lettering. Reads dead letters (from admission and the sender); places them in batches of at most 10
/// entries and 256 KiB (the smallest limit a queue may have) within <see cref="RunDeadlines.Settling"/>. A dead
/// letter placed resolves its part of the message; one that could not be placed abandons it (the message stays
/// in the main queue rather than lose the event). Ends when its input completes.
/// </summary>
internal sealed partial class DeadLetterer(IDeadLetterQueue queue, InFlightLedger ledger, RunDeadlines deadlines, RunCounters counters, ILogger log, string runId)
{
    public const int MaxBatchEntries = 10;
    public const long MaxBatchBytes = 256 * 1024;

    /// <summary>Room per entry for its attributes and the batch's own JSON.</summary>
    private const int EntryOverheadBytes = 2048;

    public async Task RunAsync(ChannelReader<DeadLetter> input)
    {
        var batch = new List<DeadLetter>(MaxBatchEntries);
        while (await input.WaitToReadAsync(CancellationToken.None))
        {
            long batchBytes = 0;
            while (batch.Count < MaxBatchEntries && input.TryPeek(out var next))
            {
                long size = Encoding.UTF8.GetByteCount(next.Body) + EntryOverheadBytes;
                if (batch.Count > 0 && batchBytes + size > MaxBatchBytes)
                {
                    break;
                }

                input.TryRead(out _);
                batchBytes += size;
                batch.Add(next);
            }

            await PlaceAsync(batch);
            batch.Clear();
        }
    }

    private async Task PlaceAsync(List<DeadLetter> batch)
    {
        IReadOnlyList<EntryResult> results;
        try
        {
            results = await queue.SendAsync(batch, deadlines.Settling);
        }
        catch (QueueCallException ex)
        {
            results = EntryResult.AllFailed(batch.Count, ex);
        }
        catch (OperationCanceledException)
        {
            results = EntryResult.AllFailed(batch.Count, new QueueCallException("the run's deadline passed", "Timeout", fatal: false, inner: null));
        }

        var failed = results.Where(r => r.Status == EntryStatus.Failed).ToList();
        if (failed.Count > 0)
        {
            LogNotPlaced(log, runId, failed.Count, batch.Count, LogText.Escape(failed[0].Code), LogText.Escape(failed[0].Detail, 500));
        }

        for (int i = 0; i < batch.Count; i++)
        {
            var d = batch[i];
            d.Event?.ReleaseVisitor();
            switch (results[i].Status)
            {
                case EntryStatus.Done:
                    counters.DeadLettered(d.Reason);
                    LogDeadLettered(log, runId, d.Reason, d.Detail);
                    ledger.Resolve(d.Owner);
                    break;
                case EntryStatus.Withheld:
                    counters.DeadLettered(d.Reason); // a dry run counts what it would dead-letter; the message stays
                    ledger.Abandon(d.Owner);
                    break;
                default:
                    // A permanent failure that could not be dead-lettered: left for a later run like a transient one.
                    counters.TransientFailure($"dead-lettering failed ({LogText.Escape(results[i].Code)}): {LogText.Escape(results[i].Detail, 500)}");
                    ledger.Abandon(d.Owner);
                    break;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: dead-lettered ({Reason}): {Detail}")]
    private static partial void LogDeadLettered(ILogger logger, string runId, string reason, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: {Failed} of {Count} dead letters could not be placed ({Code}: {Detail}); their messages stay in the main queue")]
    private static partial void LogNotPlaced(ILogger logger, string runId, int failed, int count, string code, string detail);
}

/// <summary>No dead-letter queue configured and none in the queue's RedrivePolicy: every permanent failure stays in the main queue.</summary>
internal sealed class MissingDeadLetterQueue : IDeadLetterQueue
{
    public const string Explanation = "no dead-letter queue: set BulkDispatch__Sqs__DeadLetterQueueUrl or give the queue a RedrivePolicy";

    public Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<EntryResult>>(Enumerable.Repeat(EntryResult.Failed("NoDeadLetterQueue", Explanation), batch.Count).ToArray());
}

/// <summary>A dry run: dead letters are counted by reason and not placed.</summary>
internal sealed class DryRunDeadLetters : IDeadLetterQueue
{
    public Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<EntryResult>>(Enumerable.Repeat(EntryResult.Withheld, batch.Count).ToArray());
}
