using System.Globalization;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.QueueOperations.Statistics;

namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>
/// Receives from the dead-letter queue, sends each selected message to the queue (body unchanged, the
/// <c>BulkDispatch.Reason</c>/<c>Detail</c> attributes stripped) and deletes from the dead-letter queue only what was
/// sent, so none is lost or moved twice. Messages whose reason does not match, and any over the maximum, are made
/// visible again at once. One instance per run: it keeps the run's counts.
/// </summary>
internal sealed class ReceiveSendDeleteStrategy : IRedriveStrategy
{
    /// <summary>How long a received dead-letter message stays hidden while it is being moved.</summary>
    private const int HoldSeconds = 120;

    /// <summary>Receives in a row that bring only messages already handled, after which the run stops.</summary>
    private const int IdleReceiveLimit = 10;

    /// <summary>Deletes of what was sent get one retry of what SQS failed for its own reasons.</summary>
    private static readonly SqsRetryPolicy DeleteRetry = SqsRetryPolicy.Attempts(2);

    private readonly RedriveTally _tally = new();

    public async Task<RedriveAttempt> RunAsync(RedriveJob job, CancellationToken cancellationToken)
    {
        job.Note($"Moving with receive, send, delete: {job.MethodNote}.");
        // Every message handled in this run (moved, skipped, failed): one that comes back is only released again.
        var handled = new HashSet<string>(StringComparer.Ordinal);
        int idle = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            long remaining = job.Selection.Remaining(_tally.Attempted);
            if (remaining <= 0)
            {
                break;
            }

            IReadOnlyList<Message> messages;
            try
            {
                messages = await QueueReads.ReceiveAsync(job.Sqs, job.DeadLetterQueueUrl, (int)Math.Min(10, remaining), HoldSeconds, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            if (messages.Count == 0)
            {
                break;
            }

            var triage = job.Selection.Triage(messages, handled, remaining);
            triage.Skipped.ForEach(_tally.Skip);
            if (triage.Release.Count > 0)
            {
                int refused = await QueueReads.ReleaseAsync(job.Sqs, job.DeadLetterQueueUrl, triage.Release, CancellationToken.None);
                if (refused > 0)
                {
                    job.Note(string.Create(CultureInfo.InvariantCulture, $"{refused} skipped messages could not be made visible at once; they reappear after {HoldSeconds} s."));
                }
            }

            idle = triage.AnyNew ? 0 : idle + 1;
            if (triage.ToMove.Count > 0)
            {
                // Once sending starts, the batch is finished (sent, then deleted) even if a stop is asked for.
                await MoveAsync(job, triage.ToMove, handled);
            }

            job.Progress(_tally.Progress(RedriveMethod.ReceiveSendDelete));
            if (idle >= IdleReceiveLimit)
            {
                break;
            }
        }

        return RedriveAttempt.Done(job.Result(RedriveMethod.ReceiveSendDelete, job.MethodNote, cancellationToken.IsCancellationRequested) with
        {
            Moved = _tally.Moved,
            Skipped = _tally.Skipped,
            Failed = _tally.Failed,
            SentButNotDeleted = _tally.SentButNotDeleted,
            MovedByReason = _tally.MovedByReason,
            SkippedByReason = _tally.SkippedByReason,
            Failures = _tally.Failures,
        });
    }

    private async Task MoveAsync(RedriveJob job, List<Message> batch, HashSet<string> handled)
    {
        var sent = await job.Sqs.SendBatchAsync(job.QueueUrl, batch.Select(m => new SqsOutgoingMessage(m.Body ?? "", KeptAttributes(m))).ToList());
        var sentMessages = batch.Where((_, i) => sent.Outcomes[i].Succeeded).ToList();
        // Deleted only once sent, so none is lost.
        var deleted = await job.Sqs.DeleteBatchAsync(job.DeadLetterQueueUrl, sentMessages.Select(m => m.ReceiptHandle).ToList(), DeleteRetry);
        var unsent = new List<Message>();
        int d = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            var m = batch[i];
            string reason = DeadLetterReasons.Of(m);
            handled.Add(m.MessageId ?? "");
            if (sent.Outcomes[i] is { Succeeded: false } sendError)
            {
                unsent.Add(m);
                _tally.NotSent(m.MessageId ?? "", reason, $"SendMessageBatch did not take it ({sendError.Code}): {sendError.Message}");
            }
            else if (deleted.Outcomes[d++] is { Succeeded: false } deleteError)
            {
                _tally.NotDeleted(m.MessageId ?? "", reason, $"sent to the queue but not deleted from the dead-letter queue ({deleteError.Code}: {deleteError.Message}); it is now in both");
            }
            else
            {
                _tally.Move(reason);
            }
        }

        if (unsent.Count > 0)
        {
            // Not sent: they stay in the dead-letter queue, visible again at once.
            await QueueReads.ReleaseAsync(job.Sqs, job.DeadLetterQueueUrl, unsent, CancellationToken.None);
        }
    }

    /// <summary>The message's attributes without the dead-letter reason and detail; null when none are left.</summary>
    private static Dictionary<string, MessageAttributeValue>? KeptAttributes(Message m)
    {
        var kept = (m.MessageAttributes ?? [])
            .Where(p => p.Key is not (WireFormat.ReasonAttribute or WireFormat.DetailAttribute))
            .ToDictionary(p => p.Key, p => new MessageAttributeValue
            {
                DataType = p.Value.DataType,
                StringValue = p.Value.StringValue,
                BinaryValue = p.Value.BinaryValue is { } b ? new MemoryStream(b.ToArray()) : null,
            }, StringComparer.Ordinal);
        return kept.Count > 0 ? kept : null;
    }
}
