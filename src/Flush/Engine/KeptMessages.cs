using System.Collections.Concurrent;
using BulkDispatch.Flush.Engine.Stages;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine;

/// <summary>Where the ledger puts a message it will not delete (some part of it was abandoned, or the run is a dry run).</summary>
internal interface IKeptMessageSink
{
    /// <summary>The message stays in the queue; called once, just before the ledger forgets it.</summary>
    void Keep(InFlightMessage message);

    /// <summary>Called once, when every stage has ended.</summary>
    Task FinishAsync(CancellationToken cancellationToken);
}

/// <summary>A real run: a kept message comes back after its visibility timeout, not sooner (no receive counts burnt while Optimizely is down).</summary>
internal sealed class LeaveKeptMessages : IKeptMessageSink
{
    public static readonly LeaveKeptMessages Instance = new();

    public void Keep(InFlightMessage message)
    {
    }

    public Task FinishAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// A dry run keeps every message, and must not hide them from the next real run for a whole visibility
/// timeout: once the run has ended (not before, or this run would receive them again) they are made visible.
/// </summary>
internal sealed partial class ReleaseKeptMessagesAtEnd(IVisibilityChanger queue, ILogger log, string runId) : IKeptMessageSink
{
    private readonly ConcurrentQueue<string> _receiptHandles = new();

    public void Keep(InFlightMessage message) => _receiptHandles.Enqueue(message.ReceiptHandle);

    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        foreach (var chunk in _receiptHandles.Chunk(10))
        {
            try
            {
                await queue.ChangeVisibilityAsync(chunk, 0, cancellationToken);
            }
            catch (Exception ex) when (ex is QueueCallException or OperationCanceledException)
            {
                LogReleaseFailed(log, runId, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: changing message visibility failed: {Detail}")]
    private static partial void LogReleaseFailed(ILogger logger, string runId, string detail);
}
