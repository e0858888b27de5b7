namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>What <see cref="DeadLetterRedriver.RedriveAsync"/> moves, and where it reports progress.</summary>
public sealed class RedriveOptions
{
    /// <summary>Move only messages with one of these reason codes (<see cref="DeadLetterReasons.NoReason"/> for none); empty: all.</summary>
    public IReadOnlyCollection<string> Reasons { get; init; } = [];

    /// <summary>Move at most this many messages (1 or more); null: no limit.</summary>
    public long? Max { get; init; }

    /// <summary>Count what would move (peeking at the dead-letter queue); move nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>How many messages a dry run examines at most.</summary>
    public int DryRunScanLimit { get; init; } = 100_000;

    /// <summary>Called with the running counts after each batch (and each look at SQS's move task); must return quickly.</summary>
    public Action<RedriveProgress>? Progress { get; init; }

    /// <summary>Called with a sentence for the operator: which method moves the messages and why, what a stop left behind.</summary>
    public Action<string>? Notes { get; init; }
}
