using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.QueueOperations.Queues;

namespace BulkDispatch.QueueOperations.Statistics;

/// <summary>
/// Reads the queue's and the dead-letter queue's counts, settings and redrive policy, and counts the dead-lettered
/// messages by reason without consuming them (they are received with a visibility timeout of 0 and made visible again).
/// Registered by <see cref="QueueOperationsServiceCollectionExtensions.AddBulkDispatchQueueOperations"/>. Thread-safe.
/// </summary>
public sealed class QueueInspector
{
    /// <summary>How many dead-letter messages <see cref="InspectAsync"/> examines by default.</summary>
    public const int DefaultReasonSampleLimit = 10_000;

    /// <summary>The most dead-letter messages one inspection examines.</summary>
    public const int MaxReasonSampleLimit = 1_000_000;

    private readonly QueueResolver _queues;

    internal QueueInspector(QueueResolver queues) => _queues = queues;

    /// <summary>Reads both queues and counts the dead-letter reasons over at most <paramref name="reasonSampleLimit"/> messages.</summary>
    /// <param name="reasonSampleLimit">Dead-letter messages to examine at most (1 to <see cref="MaxReasonSampleLimit"/>); the result says when the counts are a sample.</param>
    /// <param name="cancellationToken">Stops the reads.</param>
    /// <exception cref="BulkDispatchConfigurationException">A setting is invalid, a queue does not exist, or SQS refuses access; each names the setting to fix.</exception>
    /// <exception cref="SqsRequestFailedException">SQS could not be reached or failed.</exception>
    public async Task<QueueOverview> InspectAsync(int reasonSampleLimit = DefaultReasonSampleLimit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(reasonSampleLimit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(reasonSampleLimit, MaxReasonSampleLimit);
        var queues = await _queues.ResolveAsync(cancellationToken);
        var sqs = _queues.Gateway;
        var queue = await QueueReads.ReadAsync(sqs, queues.QueueUrl, queues.QueueSetting, cancellationToken);
        if (queues.DeadLetterQueueUrl is not { } dlqUrl)
        {
            return new QueueOverview(queue, null, null);
        }

        var dlq = await QueueReads.ReadAsync(sqs, dlqUrl, queues.DeadLetterQueueSetting, cancellationToken);
        var reasons = await QueueReads.PeekReasonsAsync(sqs, dlqUrl, dlq.Visible, dlq.Total, reasonSampleLimit, cancellationToken);
        var source = queues.DeadLetterQueueFromSetting ? DeadLetterQueueSource.Setting : DeadLetterQueueSource.RedrivePolicy;
        return new QueueOverview(queue, dlq with { Reasons = reasons }, source);
    }
}
