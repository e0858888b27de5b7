using System.Globalization;
using Amazon.SQS.Model;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Queue;

namespace BulkDispatch.QueueOperations.Statistics;

/// <summary>
/// The reads the queue operations share: a queue's counts and settings, the dead-letter reasons counted without
/// consuming anything (messages received with a visibility timeout of 0, a peek, deduplicated by MessageId), and the
/// receive and release the redrive uses.
/// </summary>
internal static class QueueReads
{
    /// <summary>Receives in a row that bring no message not seen before, after which a peek stops.</summary>
    private const int IdleReceiveLimit = 10;

    private static readonly TimeSpan ReceiveWait = TimeSpan.FromSeconds(1);

    private static readonly List<string> StatisticsAttributes =
    [
        "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
        "MessageRetentionPeriod", "VisibilityTimeout", "MaximumMessageSize", "RedrivePolicy",
    ];

    /// <summary>The queue's counts and settings; <paramref name="settingName"/> (the setting that named the queue) is named when it does not exist.</summary>
    /// <exception cref="BulkDispatchConfigurationException">The queue does not exist or SQS refuses access.</exception>
    public static async Task<QueueStatistics> ReadAsync(SqsGateway sqs, string queueUrl, string settingName, CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, string> a;
        try
        {
            a = await sqs.GetQueueAttributesAsync(queueUrl, StatisticsAttributes, cancellationToken: cancellationToken);
        }
        catch (SqsRequestFailedException ex) when (ex.Kind == SqsFailureKind.Fatal)
        {
            throw QueueAccess.ConfigurationError(ex, $"{settingName} ('{UrlRedaction.Redact(queueUrl)}')", "sqs:GetQueueAttributes");
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
            var messages = await ReceiveAsync(sqs, queueUrl, 10, visibilityTimeoutSeconds: 0, cancellationToken);
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
                string reason = DeadLetterReasons.Of(m);
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

    /// <summary>One receive of up to <paramref name="max"/> messages with every message attribute; empty when nothing came.</summary>
    /// <exception cref="SqsRequestFailedException">SQS failed or did not answer in time (the gateway gives each receive its own timeout).</exception>
    public static Task<IReadOnlyList<Message>> ReceiveAsync(SqsGateway sqs, string queueUrl, int max, int visibilityTimeoutSeconds, CancellationToken cancellationToken) =>
        sqs.ReceiveAsync(
            new SqsReceiveRequest(queueUrl)
            {
                MaxMessages = max,
                WaitTime = ReceiveWait,
                VisibilityTimeoutSeconds = visibilityTimeoutSeconds,
                MessageAttributeNames = ["All"],
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
