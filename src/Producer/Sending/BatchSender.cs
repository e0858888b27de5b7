using BulkDispatch.Core.Sqs;
using BulkDispatch.Producer.Buffering;
using BulkDispatch.Producer.Diagnostics;

namespace BulkDispatch.Producer.Sending;

/// <summary>
/// Sends the messages of one batch to the queue through the gateway and settles every event in them. The gateway
/// splits by SQS's limits and retries throttling, 5xx, the network and the failed entries of a partly failed batch until
/// the publisher stops. Per message: SQS took it → its events are sent; SQS rejected it as invalid (the sender's fault)
/// → a message of several events is halved and the halves sent again, so only an event that can never be delivered is
/// refused; any other failure (the retries end only at the dispose deadline) → its events are dropped. The packer makes
/// the bodies (halves included). Thread-safe.
/// </summary>
internal sealed class BatchSender(MessagePacker packer, SqsGateway gateway, string queueUrl, SqsRetryPolicy retry, EventOutcomes outcomes, ProducerMetrics metrics, ProducerWarnings warnings)
{
    /// <summary>Sends <paramref name="messages"/> and settles their events; returns when all are settled.</summary>
    public async Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken stop)
    {
        var result = await gateway.SendBatchAsync(queueUrl, packer.Compose(messages), SqsLimits.MaxMessageBytes, retry, stop).ConfigureAwait(false);
        metrics.Requests(result.Requests);
        var halves = new List<OutgoingMessage>();
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            var outcome = result.Outcomes[i];
            int events = message.Fragments.Count;
            if (outcome.Succeeded)
            {
                outcomes.Sent(message.BufferedBytes, events);
            }
            else if (outcome.Failure == SqsFailureKind.SenderFault && events > 1)
            {
                // Too large for the queue, or one bad event among several: the halves go on their own.
                var (first, second) = message.Split();
                halves.Add(first);
                halves.Add(second);
            }
            else if (outcome.Failure == SqsFailureKind.SenderFault)
            {
                outcomes.Refused(message.BufferedBytes, events, RefusalKind.RejectedBySqs);
                warnings.RefusedBySqs(events, message.Bytes, outcome.Code, outcome.Message);
            }
            else
            {
                outcomes.Dropped(message.BufferedBytes, events, DropReason.DisposeDeadline);
            }
        }

        if (halves.Count > 0)
        {
            await SendAsync(halves, stop).ConfigureAwait(false);
        }
    }
}
