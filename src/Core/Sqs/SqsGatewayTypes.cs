using System.Text;
using Amazon.SQS.Model;

namespace BulkDispatch.Core.Sqs;

/// <summary>SQS's limits that the gateway applies when it splits a batch.</summary>
public static class SqsLimits
{
    /// <summary>Entries in one SendMessageBatch, DeleteMessageBatch or ChangeMessageVisibilityBatch, and messages in one receive.</summary>
    public const int MaxBatchEntries = 10;

    /// <summary>The largest message SQS takes (1 MiB); a queue's <c>MaximumMessageSize</c> may be smaller.</summary>
    public const int MaxMessageBytes = 1024 * 1024;

    /// <summary>The largest SendMessageBatch payload: all bodies and attributes together (1 MiB).</summary>
    public const int MaxBatchBytes = 1024 * 1024;

    /// <summary>The longest long-poll wait of a receive.</summary>
    public static readonly TimeSpan MaxWaitTime = TimeSpan.FromSeconds(20);
}

/// <summary>A message to send: its body and, optionally, message attributes.</summary>
/// <param name="Body">The body, sent unchanged.</param>
/// <param name="Attributes">Message attributes, or null.</param>
public sealed record SqsOutgoingMessage(string Body, IReadOnlyDictionary<string, MessageAttributeValue>? Attributes = null)
{
    /// <summary>The bytes SQS counts against its size limits: the UTF-8 body and every attribute's name, type and value.</summary>
    public int Bytes
    {
        get
        {
            long bytes = Encoding.UTF8.GetByteCount(Body ?? "");
            foreach (var pair in Attributes ?? new Dictionary<string, MessageAttributeValue>())
            {
                bytes += Encoding.UTF8.GetByteCount(pair.Key) + Encoding.UTF8.GetByteCount(pair.Value.DataType ?? "")
                    + Encoding.UTF8.GetByteCount(pair.Value.StringValue ?? "") + (pair.Value.BinaryValue?.Length ?? 0);
            }

            return (int)Math.Min(int.MaxValue, bytes);
        }
    }
}

/// <summary>What became of one item of a batch call.</summary>
/// <param name="Succeeded">SQS took it.</param>
/// <param name="Failure">Why not, when it failed: transient (try later), fatal, or the item's own fault.</param>
/// <param name="Code">The AWS error code of the failure.</param>
/// <param name="Message">What SQS or the network said.</param>
public readonly record struct SqsItemOutcome(bool Succeeded, SqsFailureKind? Failure, string? Code, string? Message)
{
    /// <summary>SQS took the item.</summary>
    public static SqsItemOutcome Ok { get; } = new(true, null, null, null);

    /// <summary>The item failed.</summary>
    public static SqsItemOutcome Failed(SqsFailureKind kind, string code, string? message) => new(false, kind, code, message);

    /// <summary>For messages: the failure, e.g. <c>Transient (ServiceUnavailable: ...)</c>; "ok" for a success.</summary>
    public override string ToString() => Succeeded ? "ok" : $"{Failure} ({Code}: {Message})";
}

/// <summary>The outcome of every item of a batch call, in the order the items were given.</summary>
public sealed class SqsBatchResult
{
    internal SqsBatchResult(SqsItemOutcome[] outcomes, int requests)
    {
        Outcomes = outcomes;
        Requests = requests;
    }

    /// <summary>One outcome per item, in the order the items were given.</summary>
    public IReadOnlyList<SqsItemOutcome> Outcomes { get; }

    /// <summary>SQS requests made (chunks and retries).</summary>
    public int Requests { get; }

    /// <summary>Items SQS took.</summary>
    public int Succeeded => Outcomes.Count(o => o.Succeeded);

    /// <summary>True when SQS took every item.</summary>
    public bool AllSucceeded => Outcomes.All(o => o.Succeeded);
}

/// <summary>One receive: which queue, how many messages, how long to wait, and what to bring.</summary>
/// <param name="QueueUrl">The queue.</param>
public sealed record SqsReceiveRequest(string QueueUrl)
{
    /// <summary>Messages to ask for (1 to 10).</summary>
    public int MaxMessages { get; init; } = SqsLimits.MaxBatchEntries;

    /// <summary>The long-poll wait (whole seconds, at most 20).</summary>
    public TimeSpan WaitTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How much longer than <see cref="WaitTime"/> an attempt may take before it is abandoned (receives have been seen to hang).</summary>
    public TimeSpan TimeoutMargin { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The visibility timeout for the received messages; null for the queue's own (0 peeks).</summary>
    public int? VisibilityTimeoutSeconds { get; init; }

    /// <summary>Message attributes to bring (<c>All</c> for every one), or null for none.</summary>
    public IReadOnlyList<string>? MessageAttributeNames { get; init; }

    /// <summary>System attributes to bring (e.g. <c>ApproximateReceiveCount</c>), or null for none.</summary>
    public IReadOnlyList<string>? SystemAttributeNames { get; init; }

    /// <summary>
    /// Called (quickly) each time an attempt is abandoned while SQS may be serving it: its timeout passed or the call was
    /// cancelled in flight. SQS may then have leased up to <see cref="MaxMessages"/> messages that nobody received: they
    /// stay invisible until their visibility timeout passes. An attempt SQS answered with an error is not abandoned.
    /// </summary>
    public Action? AttemptAbandoned { get; init; }
}

/// <summary>What the flush and the queue commands need to know about a queue before they start.</summary>
/// <param name="QueueUrl">The queue.</param>
/// <param name="DeadLetterQueueUrl">Where permanent failures go: the setting, else the RedrivePolicy target; null when neither.</param>
/// <param name="DeadLetterQueueFromSetting">True when <paramref name="DeadLetterQueueUrl"/> came from <c>BulkDispatch__Sqs__DeadLetterQueueUrl</c>.</param>
/// <param name="VisibilityTimeoutSeconds">The queue's default visibility timeout (30 when it does not say).</param>
/// <param name="MaxMessageBytes">The queue's MaximumMessageSize: the most one message may weigh.</param>
/// <param name="RedrivePolicy">The queue's redrive policy, if any.</param>
public sealed record SqsQueueDescription(
    string QueueUrl, string? DeadLetterQueueUrl, bool DeadLetterQueueFromSetting, int VisibilityTimeoutSeconds, int MaxMessageBytes, SqsRedrivePolicy? RedrivePolicy);

/// <summary>SQS's approximate message counts of a queue.</summary>
/// <param name="Visible">Waiting to be received.</param>
/// <param name="InFlight">Received and not yet deleted or released.</param>
/// <param name="Delayed">Sent with a delay that has not passed.</param>
public readonly record struct SqsQueueDepth(long Visible, long InFlight, long Delayed)
{
    /// <summary>Every message in the queue.</summary>
    public long Total => Visible + InFlight + Delayed;
}
