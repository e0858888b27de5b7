using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Producer;

/// <summary>What to do with an event when the buffer is full.</summary>
public enum OverflowPolicy
{
    /// <summary>Refuse the new event at once and count it as dropped (the default: the request path never waits).</summary>
    DropNewest,

    /// <summary>Block the caller up to <see cref="ProducerOptions.BlockTimeout"/> for room, then drop it.</summary>
    Block,
}

/// <summary>
/// Settings of <see cref="SqsEventPublisher"/>: where the queue is (<see cref="Sqs"/>, the <c>BulkDispatch__Sqs__*</c>
/// settings the flush reads too) and how the buffer and the pump behave (<c>BulkDispatch__Producer__*</c>).
/// </summary>
public sealed class ProducerOptions
{
    /// <summary>The section of the producer settings.</summary>
    public const string Section = "BulkDispatch:Producer";

    /// <summary>Where the queue is: the <c>BulkDispatch__Sqs__*</c> settings (its dead-letter queue is the flush's business).</summary>
    public SqsOptions Sqs { get; set; } = new();

    /// <summary>Events held in memory at most.</summary>
    public int BufferCapacity { get; set; } = 100_000;

    /// <summary>Body bytes held in memory at most.</summary>
    public long BufferBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>What happens to an event that finds the buffer full.</summary>
    public OverflowPolicy OverflowPolicy { get; set; } = OverflowPolicy.DropNewest;

    /// <summary>With <see cref="OverflowPolicy.Block"/>, how long a caller may wait for room.</summary>
    public TimeSpan BlockTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long the pump waits for a batch to fill before sending what it has.</summary>
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The largest message to write; 0 reads the queue's MaximumMessageSize (256 KiB if it cannot be read).</summary>
    public int MaxMessageBytes { get; set; }

    /// <summary>
    /// The wire format written: 2 (the default) compresses each message's events (docs/wire-format.md, Version 2);
    /// 1 writes them as plain JSON, for a rollout while a flush that reads only version 1 still drains the queue.
    /// </summary>
    public int WireFormatVersion { get; set; } = WireFormat.CompressedVersion;

    /// <summary>SendMessageBatch requests in flight at once.</summary>
    public int SendConcurrency { get; set; } = 4;

    /// <summary>The first retry delay after a throttled, failed or unreachable send; later ones grow exponentially with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between two retries (the pump keeps retrying while the process lives).</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long <c>DisposeAsync</c> may take to send what is buffered.</summary>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At most one warning about dropped events per this interval.</summary>
    public TimeSpan DropWarningInterval { get; set; } = TimeSpan.FromSeconds(30);
}
