using System.Text;
using System.Threading.Channels;
using BulkDispatch.Core;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>Something to put on the dead-letter queue, and the message (and event) it belongs to.</summary>
internal sealed record DeadLetter(string Body, string Reason, string Detail, InFlightMessage Owner, EventTracker? Event);

/// <summary>Where dead letters go: the dead-letter queue, nowhere (none configured), or a dry run's count.</summary>
internal interface IDeadLetterQueue
{
    /// <summary>The queue as messages name it (e.g. its redacted URL).</summary>
    string Name { get; }

    /// <summary>The largest copy the queue takes: its MaximumMessageSize, at most SQS's 1 MiB.</summary>
    ValueTask<int> MaxMessageBytesAsync(CancellationToken cancellationToken);

    /// <summary>Places a batch (at most 10 copies, 1 MiB together); one result per entry, in order.</summary>
    /// <exception cref="QueueCallException">The whole call failed.</exception>
    Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetterCopy> batch, CancellationToken cancellationToken);
}

/// <summary>
/// Dead-lettering. Reads dead letters (from admission and the sender); fits each copy to the dead-letter queue's
/// MaximumMessageSize (<see cref="DeadLetterCopy.Fit"/>: the detail shortened, then dropped, then the reason, which is
/// then logged) and places them in batches of at most 10 copies and 1 MiB (SQS counts bodies and attributes) within
/// <see cref="RunDeadlines.Settling"/>. A dead letter placed resolves its part of the message; one that could not be
/// placed (its body alone over the queue's limit, or SQS refused) abandons it: the message stays in the main queue
/// rather than lose the event, and the failure is counted in the report. Ends when its input completes.
/// </summary>
internal sealed partial class DeadLetterer(IDeadLetterQueue queue, InFlightLedger ledger, RunDeadlines deadlines, RunCounters counters, ILogger log, string runId)
{
    public const int MaxBatchEntries = SqsLimits.MaxBatchEntries;
    public const long MaxBatchBytes = SqsLimits.MaxBatchBytes;

    public async Task RunAsync(ChannelReader<DeadLetter> input)
    {
        var batch = new List<(DeadLetter Letter, DeadLetterCopy Copy)>(MaxBatchEntries);
        while (await input.WaitToReadAsync(CancellationToken.None))
        {
            int limit = await MaxMessageBytesAsync();
            long batchBytes = 0;
            while (batch.Count < MaxBatchEntries && input.TryPeek(out var next))
            {
                if (DeadLetterCopy.Fit(next, limit) is not { } copy)
                {
                    input.TryRead(out _);
                    Settle(next, EntryResult.Failed("MessageTooLong", TooLarge(next, limit)));
                    continue;
                }

                if (batch.Count > 0 && batchBytes + copy.Bytes > MaxBatchBytes)
                {
                    break;
                }

                input.TryRead(out _);
                if (copy.Trim != DeadLetterTrim.None)
                {
                    LogTrimmed(log, runId, next.Owner.MessageId, next.Reason, Describe(copy.Trim), limit);
                }

                batchBytes += copy.Bytes;
                batch.Add((next, copy));
            }

            if (batch.Count > 0)
            {
                await PlaceAsync(batch);
                batch.Clear();
            }
        }
    }

    private async Task<int> MaxMessageBytesAsync()
    {
        try
        {
            return Math.Min(await queue.MaxMessageBytesAsync(deadlines.Settling), SqsLimits.MaxMessageBytes);
        }
        catch (Exception ex) when (ex is QueueCallException or OperationCanceledException)
        {
            return SqsLimits.MaxMessageBytes; // SQS judges each copy then
        }
    }

    private string TooLarge(DeadLetter letter, int limit) =>
        $"the dead-letter queue {queue.Name} takes messages of at most {limit} bytes (its MaximumMessageSize) and this copy's body has " +
        $"{Encoding.UTF8.GetByteCount(letter.Body)}; raise the dead-letter queue's MaximumMessageSize to {SqsLimits.MaxMessageBytes} (the main queue's message stays where it is)";

    private static string Describe(DeadLetterTrim trim) => trim switch
    {
        DeadLetterTrim.DetailShortened => $"a shortened {WireFormat.DetailAttribute} attribute",
        DeadLetterTrim.DetailDropped => $"its {WireFormat.DetailAttribute} attribute",
        _ => "its attributes",
    };

    private async Task PlaceAsync(List<(DeadLetter Letter, DeadLetterCopy Copy)> batch)
    {
        IReadOnlyList<EntryResult> results;
        try
        {
            results = await queue.SendAsync(batch.ConvertAll(b => b.Copy), deadlines.Settling);
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
            Settle(batch[i].Letter, results[i]);
        }
    }

    private void Settle(DeadLetter d, EntryResult result)
    {
        d.Event?.ReleaseVisitor();
        switch (result.Status)
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
                counters.TransientFailure($"dead-lettering failed ({LogText.Escape(result.Code)}): {LogText.Escape(result.Detail, 500)}");
                LogNotDeadLettered(log, runId, d.Owner.MessageId, d.Reason, LogText.Escape(result.Code), LogText.Escape(result.Detail, 500));
                ledger.Abandon(d.Owner);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: dead-lettered ({Reason}): {Detail}")]
    private static partial void LogDeadLettered(ILogger logger, string runId, string reason, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: the dead-letter copy of message {MessageId} ({Reason}) goes without {What}: the body leaves no room under {Limit} bytes")]
    private static partial void LogTrimmed(ILogger logger, string runId, string messageId, string reason, string what, int limit);

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: {Failed} of {Count} dead letters could not be placed ({Code}: {Detail}); their messages stay in the main queue")]
    private static partial void LogNotPlaced(ILogger logger, string runId, int failed, int count, string code, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: message {MessageId} ({Reason}) could not be dead-lettered ({Code}: {Detail}); it stays in the main queue")]
    private static partial void LogNotDeadLettered(ILogger logger, string runId, string messageId, string reason, string code, string detail);
}

/// <summary>No dead-letter queue configured and none in the queue's RedrivePolicy: every permanent failure stays in the main queue.</summary>
internal sealed class MissingDeadLetterQueue : IDeadLetterQueue
{
    public const string Explanation = "no dead-letter queue: set BulkDispatch__Sqs__DeadLetterQueueUrl or give the queue a RedrivePolicy";

    public string Name => "(none)";

    public ValueTask<int> MaxMessageBytesAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SqsLimits.MaxMessageBytes);

    public Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetterCopy> batch, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<EntryResult>>(Enumerable.Repeat(EntryResult.Failed("NoDeadLetterQueue", Explanation), batch.Count).ToArray());
}

/// <summary>A dry run: dead letters are counted by reason and not placed.</summary>
internal sealed class DryRunDeadLetters : IDeadLetterQueue
{
    public string Name => "(dry run)";

    public ValueTask<int> MaxMessageBytesAsync(CancellationToken cancellationToken) => ValueTask.FromResult(SqsLimits.MaxMessageBytes);

    public Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetterCopy> batch, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<EntryResult>>(Enumerable.Repeat(EntryResult.Withheld, batch.Count).ToArray());
}
