using System.Threading.Channels;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>Deletes received messages by their receipt handles (at most 10).</summary>
internal interface IMessageDeleter
{
    /// <summary>One result per handle, in order.</summary>
    /// <exception cref="QueueCallException">The whole call failed.</exception>
    Task<IReadOnlyList<EntryResult>> DeleteAsync(IReadOnlyList<string> receiptHandles, CancellationToken cancellationToken);
}

/// <summary>
/// Deleting. Reads the messages the ledger settled (every part accepted or dead-lettered); deletes them in
/// batches of up to 10 (waiting a moment for a batch to fill: ten cost what one costs) within
/// <see cref="RunDeadlines.Settling"/>, then the ledger forgets them, deleted or not (a message not deleted is
/// delivered again; uuid de-duplication makes that harmless). Ends when its input completes.
/// </summary>
internal sealed partial class Deleter(IMessageDeleter queue, InFlightLedger ledger, RunDeadlines deadlines, RunCounters counters, TimeProvider time, ILogger log, string runId)
{
    public const int MaxBatch = 10;

    /// <summary>How long a batch that is not full waits for more.</summary>
    public static readonly TimeSpan FillWait = TimeSpan.FromMilliseconds(20);

    private const int Loops = 2;

    public Task RunAsync(ChannelReader<InFlightMessage> input) =>
        Task.WhenAll(Enumerable.Range(0, Loops).Select(_ => Task.Run(() => LoopAsync(input))));

    private async Task LoopAsync(ChannelReader<InFlightMessage> input)
    {
        var batch = new List<InFlightMessage>(MaxBatch);
        while (await input.WaitToReadAsync(CancellationToken.None))
        {
            Fill(input, batch);
            if (batch.Count < MaxBatch && !input.Completion.IsCompleted)
            {
                await Task.Delay(FillWait, time);
                Fill(input, batch);
            }

            if (batch.Count > 0) // the other loop may have taken what woke this one
            {
                await DeleteAsync(batch);
                batch.Clear();
            }
        }
    }

    private static void Fill(ChannelReader<InFlightMessage> input, List<InFlightMessage> batch)
    {
        while (batch.Count < MaxBatch && input.TryRead(out var message))
        {
            batch.Add(message);
        }
    }

    private async Task DeleteAsync(List<InFlightMessage> batch)
    {
        try
        {
            var results = await queue.DeleteAsync(batch.ConvertAll(m => m.ReceiptHandle), deadlines.Settling);
            counters.Deleted(results.Count(r => r.Status == EntryStatus.Done));
            for (int i = 0; i < results.Count; i++)
            {
                if (results[i].Status == EntryStatus.Failed)
                {
                    LogDeleteFailed(log, runId, batch[i].MessageId, results[i].Code ?? "", results[i].Detail ?? "");
                }
            }
        }
        catch (Exception ex) when (ex is QueueCallException or OperationCanceledException)
        {
            LogDeleteError(log, runId, batch.Count, ex.Message);
        }
        finally
        {
            foreach (var message in batch)
            {
                ledger.Forget(message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: deleting message {MessageId} failed ({Code}: {Detail}); it will be delivered again")]
    private static partial void LogDeleteFailed(ILogger logger, string runId, string messageId, string code, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: deleting {Count} messages failed ({Detail}); they will be delivered again")]
    private static partial void LogDeleteError(ILogger logger, string runId, int count, string detail);
}
