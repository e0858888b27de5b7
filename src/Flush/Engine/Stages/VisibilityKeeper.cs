using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>Changes the visibility timeout of received messages (at most 10 receipt handles).</summary>
internal interface IVisibilityChanger
{
    /// <summary>One result per handle, in order.</summary>
    /// <exception cref="QueueCallException">The whole call failed.</exception>
    Task<IReadOnlyList<EntryResult>> ChangeVisibilityAsync(IReadOnlyList<string> receiptHandles, int visibilitySeconds, CancellationToken cancellationToken);
}

/// <summary>
/// Visibility extension, beside the data path: while the run goes on, a quarter of the visibility timeout
/// apart, it extends every held message whose lease ends within half the timeout (so a lease just above that
/// when looked at is still renewed in time at the next look). Abandoned messages are left to time out.
/// Reads and writes only the leases in the ledger; runs until its token is cancelled.
/// </summary>
internal sealed partial class VisibilityKeeper(IVisibilityChanger queue, InFlightLedger ledger, int visibilityTimeoutSeconds, TimeProvider time, ILogger log, string runId)
{
    private readonly int _visibility = Math.Max(1, visibilityTimeoutSeconds);

    /// <summary>Time between two looks.</summary>
    public TimeSpan Period => TimeSpan.FromSeconds(Math.Max(0.2, _visibility / 4.0));

    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Period, time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await ExtendDueAsync(stop);
        }
    }

    /// <summary>One look: extends the leases that end within half the visibility timeout.</summary>
    public async Task ExtendDueAsync(CancellationToken cancellationToken)
    {
        long margin = (long)(_visibility / 2.0 * time.TimestampFrequency);
        var due = ledger.LeasesEndingBefore(time.GetTimestamp(), margin);
        foreach (var chunk in due.Chunk(10))
        {
            long requestedAt = time.GetTimestamp(); // the new timeout runs from no earlier than this
            try
            {
                var results = await queue.ChangeVisibilityAsync(Array.ConvertAll(chunk, m => m.ReceiptHandle), _visibility, cancellationToken);
                long until = requestedAt + (long)(_visibility * time.TimestampFrequency);
                for (int i = 0; i < results.Count; i++)
                {
                    if (results[i].Status == EntryStatus.Done)
                    {
                        chunk[i].LeaseUntil = until;
                    }
                }
            }
            catch (Exception ex) when (ex is QueueCallException or OperationCanceledException)
            {
                LogLeaseError(log, runId, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: changing message visibility failed: {Detail}")]
    private static partial void LogLeaseError(ILogger logger, string runId, string detail);
}
