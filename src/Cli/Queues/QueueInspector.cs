using System.Globalization;
using Amazon.SQS.Model;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Queue;

namespace BulkDispatch.Cli.Queues;

/// <summary>One queue's counts and settings, as <c>GetQueueAttributes</c> reported them.</summary>
internal sealed record QueueStatistics
{
    public required string Name { get; init; }

    public required string Url { get; init; }

    public string? Arn { get; init; }

    /// <summary>ApproximateNumberOfMessages: visible, waiting to be received.</summary>
    public long Visible { get; init; }

    /// <summary>ApproximateNumberOfMessagesNotVisible: received and not yet deleted or released.</summary>
    public long InFlight { get; init; }

    /// <summary>ApproximateNumberOfMessagesDelayed: sent with a delay that has not passed.</summary>
    public long Delayed { get; init; }

    public long? RetentionSeconds { get; init; }

    public int? VisibilityTimeoutSeconds { get; init; }

    public int? MaximumMessageSize { get; init; }

    public SqsRedrivePolicy? RedrivePolicy { get; init; }

    /// <summary>Dead-letter reasons counted by peeking (the dead-letter queue only).</summary>
    public ReasonSample? Reasons { get; init; }

    public long Total => Visible + InFlight + Delayed;
}

/// <summary>Dead-letter reasons counted from the <c>BulkDispatch.Reason</c> attribute of the messages seen by a peek.</summary>
internal sealed record ReasonSample
{
    /// <summary>Distinct messages examined (deduplicated by MessageId).</summary>
    public required long Examined { get; init; }

    /// <summary>True when the counts do not cover the whole queue (the limit was reached, or some messages were in flight or delayed or not returned).</summary>
    public required bool Sample { get; init; }

    /// <summary>The most messages the peek would examine.</summary>
    public required int Limit { get; init; }

    /// <summary>Reason code → messages; <see cref="QueueInspector.NoReason"/> for messages without the attribute.</summary>
    public required SortedDictionary<string, long> Counts { get; init; }
}

/// <summary>The queue and its dead-letter queue, resolved from the settings.</summary>
internal sealed record QueuePair(string QueueUrl, string? DeadLetterQueueUrl, bool DeadLetterQueueFromSetting);

/// <summary>
/// Reads queue counts and settings, and counts the dead-letter reasons without consuming anything: messages are
/// received with a visibility timeout of 0 (a peek) and deduplicated by MessageId.
/// </summary>
internal static class QueueInspector
{
    /// <summary>The reason shown for a dead-lettered message without a <c>BulkDispatch.Reason</c> attribute (SQS moved it after maxReceiveCount receives).</summary>
    public const string NoReason = "none";

    /// <summary>Default bound of <c>--sample</c>.</summary>
    public const int DefaultSampleLimit = 10_000;

    /// <summary>Receives in a row that bring no message not seen before, after which a peek stops.</summary>
    private const int IdleReceiveLimit = 10;

    private static readonly TimeSpan ReceiveWait = TimeSpan.FromSeconds(1);

    private static readonly List<string> StatisticsAttributes =
    [
        "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
        "MessageRetentionPeriod", "VisibilityTimeout", "MaximumMessageSize", "RedrivePolicy",
    ];

    /// <summary>Resolves the queue URL and the dead-letter queue (setting, else the RedrivePolicy target) as the flush does.</summary>
    /// <exception cref="BulkDispatchConfigurationException">A queue does not exist or SQS refuses access.</exception>
    public static async Task<QueuePair> ResolveAsync(SqsGateway sqs, SqsOptions options, CancellationToken cancellationToken)
    {
        var info = await QueueAccess.DescribeAsync(sqs, options, cancellationToken);
        return new QueuePair(info.QueueUrl, info.DeadLetterQueueUrl, info.DeadLetterQueueFromSetting);
    }

    /// <summary>The queue's counts and settings; <paramref name="settingName"/> (the setting that named the queue) is named when it does not exist.</summary>
    public static async Task<QueueStatistics> ReadAsync(SqsGateway sqs, string queueUrl, string settingName, CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, string> a;
        try
        {
            a = await sqs.GetQueueAttributesAsync(queueUrl, StatisticsAttributes, cancellationToken: cancellationToken);
        }
        catch (SqsRequestFailedException ex) when (ex.Kind == SqsFailureKind.Fatal)
        {
            throw QueueAccess.ConfigurationError(ex, $"{settingName} ({SettingsBinder.Show(queueUrl)})", "sqs:GetQueueAttributes");
        }

        return new QueueStatistics
        {
            Name = queueUrl[(queueUrl.TrimEnd('/').LastIndexOf('/') + 1)..].TrimEnd('/'),
            Url = UrlRedaction.Redact(queueUrl),
            Arn = a.GetValueOrDefault("QueueArn"),
            Visible = Long(a, "ApproximateNumberOfMessages") ?? 0,
            InFlight = Long(a, "ApproximateNumberOfMessagesNotVisible") ?? 0,
            Delayed = Long(a, "ApproximateNumberOfMessagesDelayed") ?? 0,
            RetentionSeconds = Long(a, "MessageRetentionPeriod"),
            VisibilityTimeoutSeconds = (int?)Long(a, "VisibilityTimeout"),
            MaximumMessageSize = (int?)Long(a, "MaximumMessageSize"),
            RedrivePolicy = SqsRedrivePolicy.Parse(a.GetValueOrDefault("RedrivePolicy")),
        };
    }

    /// <summary>
    /// Counts reasons over up to <paramref name="limit"/> distinct messages of the queue without consuming them:
    /// receives with visibility timeout 0, dedupes by MessageId, and stops when it has seen as many messages as
    /// <paramref name="expectedVisible"/>, when receives stop bringing new messages, or at the limit.
    /// <paramref name="expectedTotal"/> (visible, in flight and delayed) tells whether the counts cover the whole queue.
    /// </summary>
    public static async Task<ReasonSample> PeekReasonsAsync(
        SqsGateway sqs, string queueUrl, long expectedVisible, long expectedTotal, int limit, CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        bool leftUncounted = false;
        int idle = 0;
        IReadOnlyList<Message> last = [];
        while (!cancellationToken.IsCancellationRequested && seen.Count < limit)
        {
            // "All", not just the reason: some emulators (fauxqs 1.9) return the MD5 of every attribute when asked for
            // one, which the AWS SDK rejects as a mismatch.
            var messages = await ReceiveAsync(sqs, queueUrl, 10, visibilityTimeoutSeconds: 0, ["All"], cancellationToken);
            if (messages.Count == 0)
            {
                break;
            }

            last = messages;
            int fresh = 0;
            foreach (var m in messages)
            {
                if (m.MessageId is not { } id || seen.Contains(id))
                {
                    continue;
                }

                if (seen.Count >= limit)
                {
                    leftUncounted = true;
                    break;
                }

                seen.Add(id);
                fresh++;
                string reason = ReasonOf(m);
                counts[reason] = counts.GetValueOrDefault(reason) + 1;
            }

            // Done when as many messages were seen as the queue said were visible, or receives keep
            // bringing only messages already counted.
            idle = fresh == 0 ? idle + 1 : 0;
            if ((expectedVisible > 0 && seen.Count >= expectedVisible) || idle >= IdleReceiveLimit)
            {
                break;
            }
        }

        // A peeked message is visible again at once; some emulators only notice that on the next receive,
        // so the last batch is released explicitly (harmless where it is already visible).
        await ReleaseAsync(sqs, queueUrl, last, CancellationToken.None);
        return new ReasonSample
        {
            Examined = seen.Count,
            Sample = leftUncounted || seen.Count < expectedTotal,
            Limit = limit,
            Counts = counts,
        };
    }

    /// <summary>The dead-letter reason code of a message, or <see cref="NoReason"/>.</summary>
    public static string ReasonOf(Message message) =>
        message.MessageAttributes?.GetValueOrDefault(WireFormat.ReasonAttribute)?.StringValue is { Length: > 0 } reason ? reason : NoReason;

    /// <summary>One receive with its own timeout (receives have been seen to hang); an empty list when nothing came.</summary>
    /// <exception cref="SqsRequestFailedException">SQS failed or did not answer in time.</exception>
    public static async Task<IReadOnlyList<Message>> ReceiveAsync(
        SqsGateway sqs, string queueUrl, int max, int visibilityTimeoutSeconds, IReadOnlyList<string> messageAttributeNames, CancellationToken cancellationToken) =>
        await sqs.ReceiveAsync(
            new SqsReceiveRequest(queueUrl)
            {
                MaxMessages = max,
                WaitTime = ReceiveWait,
                VisibilityTimeoutSeconds = visibilityTimeoutSeconds,
                MessageAttributeNames = messageAttributeNames,
            },
            cancellationToken: cancellationToken);

    /// <summary>Makes received messages visible again at once (ChangeMessageVisibility 0); returns how many could not be.</summary>
    public static async Task<int> ReleaseAsync(SqsGateway sqs, string queueUrl, IEnumerable<Message> messages, CancellationToken cancellationToken)
    {
        var handles = messages.Where(m => m.ReceiptHandle is not null).Select(m => m.ReceiptHandle).ToList();
        var result = await sqs.ChangeVisibilityBatchAsync(queueUrl, handles, 0, cancellationToken: cancellationToken);
        return handles.Count - result.Succeeded;
    }

    private static long? Long(IReadOnlyDictionary<string, string> attributes, string name) =>
        attributes.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) ? value : null;
}
