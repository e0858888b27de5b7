using Amazon.Runtime;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Producer.Diagnostics;

namespace BulkDispatch.Producer.Sending;

/// <summary>The queue the pump writes to and the largest message it takes.</summary>
/// <param name="QueueUrl">The queue's URL.</param>
/// <param name="MaxMessageBytes">The largest message to write: <c>MaxMessageBytes</c>, else the queue's MaximumMessageSize.</param>
internal sealed record QueueLimits(string QueueUrl, int MaxMessageBytes)
{
    /// <summary>What to assume when the queue's MaximumMessageSize cannot be read: SQS's default before 2025.</summary>
    public const int FallbackMaxMessageBytes = 256 * 1024;

    /// <summary>The most one SendMessageBatch carries: ten messages, at most SQS's batch limit.</summary>
    public int MaxBatchBytes => (int)Math.Min(SqsLimits.MaxBatchBytes, (long)MaxMessageBytes * OutgoingBatch.MaxEntries);

    /// <summary>
    /// Resolves the queue (its URL from the settings, else looked up by name) and, unless <c>MaxMessageBytes</c> is set,
    /// reads its MaximumMessageSize; retried under <paramref name="retry"/> while SQS is unreachable. A role allowed only
    /// to send may not read attributes: then <see cref="FallbackMaxMessageBytes"/>, with a warning.
    /// </summary>
    public static Task<QueueLimits> ResolveAsync(SqsGateway gateway, ProducerOptions options, SqsRetryPolicy retry, ProducerWarnings warnings, CancellationToken cancellationToken) =>
        gateway.CallAsync(
            "ResolveQueue",
            async (sqs, token) =>
            {
                string queueUrl = string.IsNullOrWhiteSpace(options.Sqs.QueueUrl)
                    ? (await sqs.GetQueueUrlAsync(options.Sqs.QueueName, token).ConfigureAwait(false)).QueueUrl
                    : options.Sqs.QueueUrl!;
                if (options.MaxMessageBytes > 0)
                {
                    return new QueueLimits(queueUrl, options.MaxMessageBytes);
                }

                try
                {
                    var attributes = await sqs.GetQueueAttributesAsync(
                        new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = ["MaximumMessageSize"] },
                        token).ConfigureAwait(false);
                    return new QueueLimits(queueUrl, attributes.MaximumMessageSize > 0 ? attributes.MaximumMessageSize : FallbackMaxMessageBytes);
                }
                catch (AmazonServiceException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Forbidden || (ex.ErrorCode?.StartsWith("AccessDenied", StringComparison.Ordinal) ?? false))
                {
                    // Retrying would never send anything: the role will not be allowed on the next attempt either.
                    warnings.MaxMessageSizeUnreadable(ex.ErrorCode ?? "AccessDenied", FallbackMaxMessageBytes);
                    return new QueueLimits(queueUrl, FallbackMaxMessageBytes);
                }
            },
            retry,
            cancellationToken);
}
