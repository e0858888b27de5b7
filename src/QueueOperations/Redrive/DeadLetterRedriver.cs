using System.Diagnostics;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.QueueOperations.Queues;
using BulkDispatch.QueueOperations.Statistics;

namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>
/// Moves dead-lettered messages back to the queue once the cause is fixed, each one once: all of them with SQS's
/// message-move task where the endpoint has it; otherwise, and always when <see cref="RedriveOptions"/> selects by reason
/// or maximum, by receiving from the dead-letter queue, sending to the queue and deleting only what was sent. A dry run
/// counts what would move. Registered by <see cref="QueueOperationsServiceCollectionExtensions.AddBulkDispatchQueueOperations"/>.
/// </summary>
public sealed class DeadLetterRedriver
{
    private readonly QueueResolver _queues;
    private readonly TimeProvider _time;

    internal DeadLetterRedriver(QueueResolver queues, TimeProvider time)
    {
        _queues = queues;
        _time = time;
    }

    /// <summary>Redrives what <paramref name="options"/> select (everything by default).</summary>
    /// <param name="options">Reasons, maximum, dry run, and where progress goes.</param>
    /// <param name="cancellationToken">
    /// Stops the redrive: a batch being sent is finished (sent, then deleted), SQS's move task is cancelled, and the result
    /// says <see cref="RedriveResult.Cancelled"/>.
    /// </param>
    /// <exception cref="ArgumentException">A reason is empty or <see cref="RedriveOptions.Max"/> is below 1.</exception>
    /// <exception cref="BulkDispatchConfigurationException">
    /// A setting is invalid, a queue does not exist, SQS refuses access, or there is no dead-letter queue; nothing moved.
    /// </exception>
    /// <exception cref="SqsRequestFailedException">SQS failed; batches already sent were deleted from the dead-letter queue, the rest stay there.</exception>
    public async Task<RedriveResult> RedriveAsync(RedriveOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new RedriveOptions();
        var selection = new RedriveSelection(options.Reasons, options.Max);
        var queues = await _queues.ResolveAsync(cancellationToken);
        if (queues.DeadLetterQueueUrl is not { } dlqUrl)
        {
            throw new BulkDispatchConfigurationException(
                $"BulkDispatch__Sqs__DeadLetterQueueUrl: not set, and the queue ({UrlRedaction.Redact(queues.QueueUrl)}) has no RedrivePolicy, so there is no dead-letter queue to redrive from. Example: https://sqs.us-west-2.amazonaws.com/123456789012/event-queue-dlq.");
        }

        // Fails with the setting's name if the dead-letter queue does not exist, before anything moves.
        var sqs = _queues.Gateway;
        var dlq = await QueueReads.ReadAsync(sqs, dlqUrl, queues.DeadLetterQueueSetting, cancellationToken);
        var job = new RedriveJob
        {
            Sqs = sqs,
            QueueUrl = queues.QueueUrl,
            DeadLetterQueueUrl = dlqUrl,
            DeadLetterQueue = dlq,
            Selection = selection,
            DryRunScanLimit = options.DryRunScanLimit,
            Time = _time,
            Started = _time.GetTimestamp(),
            Progress = options.Progress ?? (_ => { }),
            Note = options.Notes ?? (_ => { }),
            MethodNote = RedriveStrategyChoice.FirstNote(selection, options.DryRun),
        };

        foreach (var kind in RedriveStrategyChoice.Order(selection, options.DryRun))
        {
            var attempt = await Create(kind).RunAsync(job, cancellationToken);
            if (attempt.Result is { } result)
            {
                return result;
            }

            job = job with { MethodNote = attempt.Unavailable };
        }

        throw new UnreachableException("The last strategy of every order is always available.");
    }

    private static IRedriveStrategy Create(RedriveStrategyKind kind) => kind switch
    {
        RedriveStrategyKind.Peek => new PeekStrategy(),
        RedriveStrategyKind.MessageMoveTask => new MessageMoveTaskStrategy(),
        _ => new ReceiveSendDeleteStrategy(),
    };
}
