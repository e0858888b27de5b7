using System.Globalization;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Queue;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// The engine's only door to SQS: the narrow calls its stages need (receive, delete, extend, depth), each a
/// thin translation of one <see cref="IAmazonSQS"/> call. SDK failures become <see cref="QueueCallException"/>,
/// fatal or not as <see cref="QueueAccess.IsFatal"/> decides; cancellation passes through unchanged.
/// </summary>
internal sealed class SqsQueueClient(SqsCalls sqs, string queueUrl) : IMessageSource, IMessageDeleter, IVisibilityChanger, IQueueDepth
{
    private static readonly List<string> ReceiveAttributes = ["ApproximateReceiveCount"];

    public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, int waitSeconds, CancellationToken cancellationToken)
    {
        var response = await SqsCall.Run(() => sqs.ReceiveMessageAsync(
            new ReceiveMessageRequest
            {
                QueueUrl = queueUrl,
                MaxNumberOfMessages = maxMessages,
                WaitTimeSeconds = waitSeconds,
                MessageSystemAttributeNames = ReceiveAttributes,
            },
            cancellationToken));

        // AWSSDK 4.x answers null, not an empty list, when nothing arrived.
        if (response.Messages is not { Count: > 0 } messages)
        {
            return [];
        }

        var received = new ReceivedMessage[messages.Count];
        for (int i = 0; i < received.Length; i++)
        {
            received[i] = new ReceivedMessage(messages[i].MessageId, messages[i].ReceiptHandle, messages[i].Body ?? "");
        }

        return received;
    }

    public async Task<IReadOnlyList<EntryResult>> DeleteAsync(IReadOnlyList<string> receiptHandles, CancellationToken cancellationToken)
    {
        var response = await SqsCall.Run(() => sqs.DeleteMessageBatchAsync(
            new DeleteMessageBatchRequest
            {
                QueueUrl = queueUrl,
                Entries = receiptHandles.Select((h, i) => new DeleteMessageBatchRequestEntry(SqsCall.Id(i), h)).ToList(),
            },
            cancellationToken));
        return SqsCall.Outcomes(receiptHandles.Count, response.Successful?.Select(s => s.Id), response.Failed);
    }

    public async Task<IReadOnlyList<EntryResult>> ChangeVisibilityAsync(IReadOnlyList<string> receiptHandles, int visibilitySeconds, CancellationToken cancellationToken)
    {
        var response = await SqsCall.Run(() => sqs.ChangeMessageVisibilityBatchAsync(
            new ChangeMessageVisibilityBatchRequest
            {
                QueueUrl = queueUrl,
                Entries = receiptHandles.Select((h, i) => new ChangeMessageVisibilityBatchRequestEntry(SqsCall.Id(i), h) { VisibilityTimeout = visibilitySeconds }).ToList(),
            },
            cancellationToken));
        return SqsCall.Outcomes(receiptHandles.Count, response.Successful?.Select(s => s.Id), response.Failed);
    }

    public async Task<long?> ApproximateDepthAsync(CancellationToken cancellationToken)
    {
        try
        {
            var attributes = await SqsCall.Run(() => sqs.GetQueueAttributesAsync(
                new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] },
                cancellationToken));
            return (long)attributes.ApproximateNumberOfMessages + attributes.ApproximateNumberOfMessagesNotVisible;
        }
        catch (Exception ex) when (ex is QueueCallException or OperationCanceledException)
        {
            return null; // only for the report
        }
    }
}

/// <summary>The dead-letter queue: permanent failures go here with their reason and detail as message attributes.</summary>
internal sealed class SqsDeadLetterQueue(SqsCalls sqs, string deadLetterQueueUrl) : IDeadLetterQueue
{
    private const int MaxDetailLength = 1000;

    public async Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetter> batch, CancellationToken cancellationToken)
    {
        var response = await SqsCall.Run(() => sqs.SendMessageBatchAsync(
            new SendMessageBatchRequest
            {
                QueueUrl = deadLetterQueueUrl,
                Entries = batch.Select((d, i) => new SendMessageBatchRequestEntry(SqsCall.Id(i), d.Body)
                {
                    MessageAttributes = new Dictionary<string, MessageAttributeValue>
                    {
                        [WireFormat.ReasonAttribute] = new() { DataType = "String", StringValue = d.Reason },
                        [WireFormat.DetailAttribute] = new() { DataType = "String", StringValue = Truncate(d.Detail, MaxDetailLength) },
                    },
                }).ToList(),
            },
            cancellationToken));
        return SqsCall.Outcomes(batch.Count, response.Successful?.Select(s => s.Id), response.Failed);
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}

/// <summary>What every call above shares: entry ids, per-entry outcomes, and the one translation of SDK failures.</summary>
internal static class SqsCall
{
    public static string Id(int index) => index.ToString(CultureInfo.InvariantCulture);

    public static async Task<T> Run<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (AmazonSQSException ex)
        {
            throw new QueueCallException(ex.Message, ex.ErrorCode ?? ex.GetType().Name, QueueAccess.IsFatal(ex), ex);
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException)
        {
            throw new QueueCallException(ex.Message, ex.GetType().Name, fatal: false, ex);
        }
    }

    /// <summary>One result per entry, by index; an entry SQS names in neither list failed.</summary>
    public static EntryResult[] Outcomes(int count, IEnumerable<string>? successful, IEnumerable<BatchResultErrorEntry>? failed)
    {
        var results = Enumerable.Repeat(EntryResult.Failed("NoAnswer", "SQS did not report this entry"), count).ToArray();
        foreach (var id in successful ?? [])
        {
            results[int.Parse(id, CultureInfo.InvariantCulture)] = EntryResult.Done;
        }

        foreach (var f in failed ?? [])
        {
            results[int.Parse(f.Id, CultureInfo.InvariantCulture)] = EntryResult.Failed(f.Code, f.Message);
        }

        return results;
    }
}
