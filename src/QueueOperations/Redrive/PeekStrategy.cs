using BulkDispatch.QueueOperations.Statistics;

namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>The dry run: counts the dead-letter reasons by peeking (visibility timeout 0) and says what would move; moves nothing.</summary>
internal sealed class PeekStrategy : IRedriveStrategy
{
    public async Task<RedriveAttempt> RunAsync(RedriveJob job, CancellationToken cancellationToken)
    {
        job.Note("Dry run: peeking at the dead-letter queue (visibility timeout 0); nothing moves.");
        var dlq = job.DeadLetterQueue;
        var sample = await QueueReads.PeekReasonsAsync(job.Sqs, job.DeadLetterQueueUrl, dlq.Visible, dlq.Total, job.DryRunScanLimit, cancellationToken);
        var plan = job.Selection.Plan(sample.Counts);
        return RedriveAttempt.Done(job.Result(RedriveMethod.Peek, "dry run", cancellationToken.IsCancellationRequested) with
        {
            DryRun = true,
            WouldMove = plan.WouldMove,
            Skipped = plan.Skipped,
            MovedByReason = plan.MoveByReason,
            SkippedByReason = plan.SkipByReason,
            Sample = sample.Sample,
        });
    }
}
