using System.Globalization;

namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>How a redrive moved (or would move) the messages: <see cref="RedriveResult.Method"/>.</summary>
public static class RedriveMethod
{
    /// <summary>SQS's own <c>StartMessageMoveTask</c>.</summary>
    public const string MessageMoveTask = "message-move-task";

    /// <summary>ReceiveMessage from the dead-letter queue, SendMessageBatch to the queue, DeleteMessageBatch of what was sent.</summary>
    public const string ReceiveSendDelete = "receive-send-delete";

    /// <summary>A dry run: the dead-letter queue was peeked (visibility 0) and nothing moved.</summary>
    public const string Peek = "peek";
}

/// <summary>A message that could not be moved (it stays in the dead-letter queue), or that was sent but not deleted.</summary>
/// <param name="MessageId">The message's id (empty for a failure of SQS's move task as a whole).</param>
/// <param name="Reason">The message's dead-letter reason code.</param>
/// <param name="Error">What failed.</param>
public sealed record RedriveFailure(string MessageId, string Reason, string Error);

/// <summary>What a redrive did.</summary>
public sealed record RedriveResult
{
    /// <summary>The method used: a <see cref="RedriveMethod"/> constant.</summary>
    public required string Method { get; init; }

    /// <summary>Why this method: why SQS's message-move task was not used (the fallback's reason), or a note on the counts.</summary>
    public string? MethodNote { get; init; }

    /// <summary>True for a dry run: nothing moved.</summary>
    public required bool DryRun { get; init; }

    /// <summary>The queue the messages go back to (redacted).</summary>
    public required string QueueUrl { get; init; }

    /// <summary>The dead-letter queue (redacted).</summary>
    public required string DeadLetterQueueUrl { get; init; }

    /// <summary>The reason codes selected, ordered; empty: all.</summary>
    public required IReadOnlyList<string> Reasons { get; init; }

    /// <summary>The most messages to move, when limited.</summary>
    public long? Max { get; init; }

    /// <summary>Messages sent to the queue and deleted from the dead-letter queue (approximate for the move task).</summary>
    public long Moved { get; init; }

    /// <summary>Dry run: messages that would move.</summary>
    public long WouldMove { get; init; }

    /// <summary>Messages left in the dead-letter queue because their reason did not match (made visible again at once).</summary>
    public long Skipped { get; init; }

    /// <summary>Messages that could not be sent: they stay in the dead-letter queue.</summary>
    public long Failed { get; init; }

    /// <summary>Messages sent to the queue whose delete from the dead-letter queue failed: they are in both queues.</summary>
    public long SentButNotDeleted { get; init; }

    /// <summary>Moved (or, in a dry run, would move) per reason code, ordered by code.</summary>
    public IReadOnlyDictionary<string, long> MovedByReason { get; init; } = new SortedDictionary<string, long>(StringComparer.Ordinal);

    /// <summary>Skipped per reason code, ordered by code.</summary>
    public IReadOnlyDictionary<string, long> SkippedByReason { get; init; } = new SortedDictionary<string, long>(StringComparer.Ordinal);

    /// <summary>The first failures (at most 100), each with its message id.</summary>
    public IReadOnlyList<RedriveFailure> Failures { get; init; } = [];

    /// <summary>Dry run: the counts cover only part of the dead-letter queue.</summary>
    public bool Sample { get; init; }

    /// <summary>True when the run was stopped (its token cancelled) before the dead-letter queue was done.</summary>
    public bool Cancelled { get; init; }

    /// <summary>How long the redrive took.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Nothing failed and the run was not cut short.</summary>
    public bool Complete => Failed == 0 && SentButNotDeleted == 0 && !Cancelled;
}

/// <summary>The running counts of a redrive.</summary>
/// <param name="Method">The method moving the messages (a <see cref="RedriveMethod"/> constant).</param>
/// <param name="Moved">Moved so far.</param>
/// <param name="Skipped">Left in the dead-letter queue because the reason did not match.</param>
/// <param name="Failed">Not moved, or sent and not deleted.</param>
/// <param name="ToMove">SQS's move task: the messages it is moving in all; null otherwise.</param>
public readonly record struct RedriveProgress(string Method, long Moved, long Skipped, long Failed, long? ToMove)
{
    /// <summary>One line for a progress display.</summary>
    public override string ToString() => ToMove is { } total
        ? string.Create(CultureInfo.InvariantCulture, $"redrive ({Method}): about {Moved} of {total} moved")
        : string.Create(CultureInfo.InvariantCulture, $"redrive ({Method}): {Moved} moved, {Skipped} skipped, {Failed} failed");
}
