using BulkDispatch.Core.Sqs;

namespace BulkDispatch.QueueOperations.Statistics;

/// <summary>One queue's counts and settings, as <c>GetQueueAttributes</c> reported them.</summary>
public sealed record QueueStatistics
{
    /// <summary>The queue's name (the last part of its URL).</summary>
    public required string Name { get; init; }

    /// <summary>The queue's URL, with anything that could carry a secret (userinfo, query) redacted.</summary>
    public required string Url { get; init; }

    /// <summary>The queue's ARN.</summary>
    public string? Arn { get; init; }

    /// <summary>ApproximateNumberOfMessages: visible, waiting to be received.</summary>
    public long Visible { get; init; }

    /// <summary>ApproximateNumberOfMessagesNotVisible: received and not yet deleted or released.</summary>
    public long InFlight { get; init; }

    /// <summary>ApproximateNumberOfMessagesDelayed: sent with a delay that has not passed.</summary>
    public long Delayed { get; init; }

    /// <summary>MessageRetentionPeriod, when SQS said.</summary>
    public long? RetentionSeconds { get; init; }

    /// <summary>The queue's default VisibilityTimeout, when SQS said.</summary>
    public int? VisibilityTimeoutSeconds { get; init; }

    /// <summary>MaximumMessageSize in bytes, when SQS said.</summary>
    public int? MaximumMessageSize { get; init; }

    /// <summary>Where SQS moves messages after maxReceiveCount receives; null when the queue has no redrive policy.</summary>
    public SqsRedrivePolicy? RedrivePolicy { get; init; }

    /// <summary>Dead-letter reasons counted by peeking (the dead-letter queue only).</summary>
    public ReasonSample? Reasons { get; init; }

    /// <summary>Every message: visible, in flight and delayed.</summary>
    public long Total => Visible + InFlight + Delayed;
}

/// <summary>Dead-letter reasons counted from the <c>BulkDispatch.Reason</c> attribute of the messages a peek saw.</summary>
public sealed record ReasonSample
{
    /// <summary>Distinct messages examined (deduplicated by MessageId).</summary>
    public required long Examined { get; init; }

    /// <summary>True when the counts do not cover the whole queue (the limit was reached, or some messages were in flight or delayed or not returned).</summary>
    public required bool Sample { get; init; }

    /// <summary>The most messages the peek would examine.</summary>
    public required int Limit { get; init; }

    /// <summary>Reason code → messages, ordered by code; <see cref="DeadLetterReasons.NoReason"/> for messages without the attribute.</summary>
    public required IReadOnlyDictionary<string, long> Counts { get; init; }
}
