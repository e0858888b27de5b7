using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Queue;

namespace BulkDispatch.QueueOperations.Queues;

/// <summary>The queue and its dead-letter queue, resolved as the flush resolves them, with where each came from (for messages).</summary>
/// <param name="QueueUrl">The queue.</param>
/// <param name="DeadLetterQueueUrl">The setting, else the RedrivePolicy target; null when neither.</param>
/// <param name="DeadLetterQueueFromSetting">True when <paramref name="DeadLetterQueueUrl"/> is <c>BulkDispatch__Sqs__DeadLetterQueueUrl</c>.</param>
/// <param name="QueueSetting">The setting that names the queue.</param>
internal sealed record ResolvedQueues(string QueueUrl, string? DeadLetterQueueUrl, bool DeadLetterQueueFromSetting, string QueueSetting)
{
    /// <summary>Where the dead-letter queue came from, for messages.</summary>
    public string DeadLetterQueueSetting => DeadLetterQueueFromSetting ? "BulkDispatch__Sqs__DeadLetterQueueUrl" : "the queue's RedrivePolicy target";
}

/// <summary>Validates the settings and resolves the queues, at the start of every operation.</summary>
internal sealed class QueueResolver(Func<SqsGateway> gateway, SqsConnectionSettings settings)
{
    /// <summary>The queue operations' gateway (made on first use, once the settings were found valid).</summary>
    public SqsGateway Gateway => gateway();

    /// <exception cref="BulkDispatchConfigurationException">A setting is invalid, the queue does not exist, or SQS refuses access.</exception>
    /// <exception cref="SqsRequestFailedException">SQS could not be reached or failed.</exception>
    public async Task<ResolvedQueues> ResolveAsync(CancellationToken cancellationToken)
    {
        var options = settings.Sqs;
        var queue = await QueueAccess.DescribeAsync(Gateway, options, cancellationToken);
        string queueSetting = string.IsNullOrWhiteSpace(options.QueueUrl) ? "BulkDispatch__Sqs__QueueName" : "BulkDispatch__Sqs__QueueUrl";
        return new ResolvedQueues(queue.QueueUrl, queue.DeadLetterQueueUrl, queue.DeadLetterQueueFromSetting, queueSetting);
    }
}
