using System.Globalization;
using Amazon.SQS.Model;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Engine.Stages;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// The engine's only door to its queue: the narrow calls its stages need (receive, delete, extend, depth), each one
/// call of the <see cref="SqsGateway"/>. A receive runs under <paramref name="receiveRetry"/> with its own timeout
/// (the wait plus <paramref name="receiveTimeoutMargin"/>), both the gateway's; a receive that still fails becomes a
/// <see cref="QueueCallException"/>. Batch calls are not retried (a message not deleted comes back and is delivered
/// again) and answer one result per entry; cancellation passes through unchanged.
/// </summary>
internal sealed partial class SqsQueueClient(SqsGateway gateway, string queueUrl, TimeSpan receiveTimeoutMargin, SqsRetryPolicy receiveRetry)
    : IMessageSource, IMessageDeleter, IVisibilityChanger, IQueueDepth
{
    /// <summary>Attempts of one receive before the run gives up as transient.</summary>
    public const int ReceiveAttempts = 3;

    private static readonly string[] ReceiveAttributes = ["ApproximateReceiveCount"];

    /// <summary>
    /// The receive path's one retry policy: <see cref="ReceiveAttempts"/> attempts in a row, each with the receive's own
    /// timeout; a fatal error (no such queue, access denied) is not retried. Create it once per engine and reuse it.
    /// </summary>
    public static SqsRetryPolicy ReceiveRetry(ILogger logger) => new()
    {
        MaxRetries = ReceiveAttempts - 1,
        OnRetry = e => LogReceiveRetry(logger, e.Attempt + 1, ReceiveAttempts, e.Exception?.Message ?? "no answer"),
    };

    public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, int waitSeconds, Action abandoned, CancellationToken cancellationToken)
    {
        var request = new SqsReceiveRequest(queueUrl)
        {
            MaxMessages = maxMessages,
            WaitTime = TimeSpan.FromSeconds(waitSeconds),
            TimeoutMargin = receiveTimeoutMargin,
            SystemAttributeNames = ReceiveAttributes,
            AttemptAbandoned = abandoned,
        };
        IReadOnlyList<Message> messages;
        try
        {
            messages = await gateway.ReceiveAsync(request, receiveRetry, cancellationToken);
        }
        catch (SqsRequestFailedException ex)
        {
            throw QueueCallException.From(ex);
        }

        var received = new ReceivedMessage[messages.Count];
        for (int i = 0; i < received.Length; i++)
        {
            received[i] = new ReceivedMessage(messages[i].MessageId, messages[i].ReceiptHandle, messages[i].Body ?? "");
        }

        return received;
    }

    public async Task<IReadOnlyList<EntryResult>> DeleteAsync(IReadOnlyList<string> receiptHandles, CancellationToken cancellationToken) =>
        EntryResult.From(await gateway.DeleteBatchAsync(queueUrl, receiptHandles, SqsRetryPolicy.None, cancellationToken));

    public async Task<IReadOnlyList<EntryResult>> ChangeVisibilityAsync(IReadOnlyList<string> receiptHandles, int visibilitySeconds, CancellationToken cancellationToken) =>
        EntryResult.From(await gateway.ChangeVisibilityBatchAsync(queueUrl, receiptHandles, visibilitySeconds, SqsRetryPolicy.None, cancellationToken));

    public async Task<long?> ApproximateDepthAsync(CancellationToken cancellationToken)
    {
        try
        {
            var depth = await gateway.GetDepthAsync(queueUrl, SqsRetryPolicy.None, cancellationToken);
            return depth.Visible + depth.InFlight;
        }
        catch (Exception ex) when (ex is SqsRequestFailedException or OperationCanceledException)
        {
            return null; // only for the report
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush: a receive failed (attempt {Attempt} of {Attempts}: {Failure}); retrying")]
    private static partial void LogReceiveRetry(ILogger logger, int attempt, int attempts, string failure);
}

/// <summary>
/// The dead-letter queue: permanent failures go here, each copy with its reason and detail as message attributes
/// (as far as they fit). Its MaximumMessageSize is read once, when the first dead letter comes.
/// </summary>
internal sealed class SqsDeadLetterQueue(SqsGateway gateway, string deadLetterQueueUrl) : IDeadLetterQueue
{
    private static readonly string[] SizeAttribute = ["MaximumMessageSize"];
    private int _maxMessageBytes;

    public string Name => UrlRedaction.Redact(deadLetterQueueUrl);

    public async ValueTask<int> MaxMessageBytesAsync(CancellationToken cancellationToken)
    {
        if (_maxMessageBytes == 0)
        {
            try
            {
                var attributes = await gateway.GetQueueAttributesAsync(deadLetterQueueUrl, SizeAttribute, SqsRetryPolicy.None, cancellationToken);
                _maxMessageBytes = attributes.TryGetValue(SizeAttribute[0], out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int bytes) && bytes > 0
                    ? bytes
                    : SqsLimits.MaxMessageBytes;
            }
            catch (SqsRequestFailedException)
            {
                return SqsLimits.MaxMessageBytes; // read again with the next batch; SQS judges each copy meanwhile
            }
        }

        return _maxMessageBytes;
    }

    public async Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetterCopy> batch, CancellationToken cancellationToken)
    {
        var messages = batch.Select(c => new SqsOutgoingMessage(c.Body, Attributes(c))).ToList();
        int limit = await MaxMessageBytesAsync(cancellationToken);
        return EntryResult.From(await gateway.SendBatchAsync(deadLetterQueueUrl, messages, limit, SqsRetryPolicy.None, cancellationToken));
    }

    private static Dictionary<string, MessageAttributeValue>? Attributes(DeadLetterCopy copy)
    {
        if (copy.Reason is null && copy.Detail is null)
        {
            return null;
        }

        var attributes = new Dictionary<string, MessageAttributeValue>(StringComparer.Ordinal);
        if (copy.Reason is not null)
        {
            attributes[WireFormat.ReasonAttribute] = new() { DataType = "String", StringValue = copy.Reason };
        }

        if (copy.Detail is not null)
        {
            attributes[WireFormat.DetailAttribute] = new() { DataType = "String", StringValue = copy.Detail };
        }

        return attributes;
    }
}
