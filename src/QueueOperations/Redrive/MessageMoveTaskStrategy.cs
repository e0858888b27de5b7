using System.Net;
using Amazon.Runtime;
using Amazon.SQS.Model;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;

namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>
/// SQS's own message-move task (StartMessageMoveTask from the dead-letter queue to the queue), followed until it
/// finishes; a stop cancels it. Not available where the endpoint lacks the operation (emulators, some proxies and
/// partitions). The task keeps the BulkDispatch.Reason/Detail attributes on the messages (the flush ignores them).
/// </summary>
internal sealed class MessageMoveTaskStrategy : IRedriveStrategy
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    public async Task<RedriveAttempt> RunAsync(RedriveJob job, CancellationToken cancellationToken)
    {
        var sqs = job.Sqs;
        string sourceArn = await ArnAsync(sqs, job.DeadLetterQueueUrl, cancellationToken);
        string destinationArn = await ArnAsync(sqs, job.QueueUrl, cancellationToken);
        string handle;
        long newestBefore;
        try
        {
            newestBefore = MoveTaskWatch.NewestStart(await ListAsync(sqs, sourceArn, cancellationToken));
            var start = new StartMessageMoveTaskRequest { SourceArn = sourceArn, DestinationArn = destinationArn };
            handle = (await sqs.CallAsync("StartMessageMoveTask", (client, token) => client.StartMessageMoveTaskAsync(start, token), cancellationToken: cancellationToken)).TaskHandle;
        }
        catch (SqsRequestFailedException ex) when (ex.InnerException is AmazonServiceException service && IsUnsupported(service))
        {
            return RedriveAttempt.NotAvailable($"the endpoint does not support StartMessageMoveTask ({ex.ErrorCode})");
        }

        job.Note($"Moving with SQS's message-move task (StartMessageMoveTask from {sourceArn} to {destinationArn}); the BulkDispatch.Reason/Detail attributes stay on the messages (the flush ignores them).");
        var watch = new MoveTaskWatch(handle, newestBefore);
        long watchingSince = job.Time.GetTimestamp();
        bool cancelled = false;
        while (true)
        {
            try
            {
                await Task.Delay(PollInterval, job.Time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                cancelled = true;
                await CancelAsync(job, handle);
            }

            var state = watch.Observe(await ListAsync(sqs, sourceArn, CancellationToken.None), job.Time.GetElapsedTime(watchingSince));
            if (watch.Entry is { } seen)
            {
                job.Progress(new RedriveProgress(RedriveMethod.MessageMoveTask, seen.ApproximateNumberOfMessagesMoved ?? 0, 0, 0, seen.ApproximateNumberOfMessagesToMove));
            }
            else if (state == MoveTaskState.Lost)
            {
                job.Note($"The message-move task does not appear in ListMessageMoveTasks; it may still run in SQS (task handle {handle}). Check with 'bulkdispatch stats'.");
                cancelled = true;
            }

            if (cancelled || state == MoveTaskState.Finished)
            {
                break;
            }
        }

        var entry = watch.Entry;
        long moved = entry?.ApproximateNumberOfMessagesMoved ?? 0;
        var failures = new List<RedriveFailure>();
        long failed = 0;
        if (entry?.Status == "FAILED")
        {
            failed = Math.Max(0, (entry.ApproximateNumberOfMessagesToMove ?? 0) - moved);
            failures.Add(new RedriveFailure("", "", $"the message-move task failed: {entry.FailureReason}; the messages it did not move stay in the dead-letter queue"));
        }

        return RedriveAttempt.Done(job.Result(RedriveMethod.MessageMoveTask, "counts are SQS's approximate numbers", cancelled || entry?.Status == "CANCELLED") with
        {
            Moved = moved,
            Failed = failed,
            Failures = failures,
        });
    }

    /// <summary>The endpoint does not know the operation.</summary>
    internal static bool IsUnsupported(AmazonServiceException ex) =>
        ex.ErrorCode is "InvalidAction" or "UnknownOperationException" or "UnknownOperation" or "UnsupportedOperation"
            or "AWS.SimpleQueueService.UnsupportedOperation" or "NotImplemented" or "InvalidAction.NotSupported"
        || ex.StatusCode is HttpStatusCode.NotImplemented or HttpStatusCode.NotFound;

    private static async Task CancelAsync(RedriveJob job, string handle)
    {
        job.Note("Stopping: cancelling the message-move task; messages already moved stay moved.");
        try
        {
            var cancel = new CancelMessageMoveTaskRequest { TaskHandle = handle };
            await job.Sqs.CallAsync("CancelMessageMoveTask", (client, token) => client.CancelMessageMoveTaskAsync(cancel, token), cancellationToken: CancellationToken.None);
        }
        catch (SqsRequestFailedException ex)
        {
            job.Note($"Could not cancel the message-move task ({ex.ErrorCode}): {ex.InnerException?.Message} It keeps running in SQS (task handle {handle}).");
        }
    }

    private static async Task<List<ListMessageMoveTasksResultEntry>> ListAsync(SqsGateway sqs, string sourceArn, CancellationToken cancellationToken)
    {
        var request = new ListMessageMoveTasksRequest { SourceArn = sourceArn, MaxResults = 10 };
        return (await sqs.CallAsync("ListMessageMoveTasks", (client, token) => client.ListMessageMoveTasksAsync(request, token), cancellationToken: cancellationToken)).Results ?? [];
    }

    private static async Task<string> ArnAsync(SqsGateway sqs, string url, CancellationToken cancellationToken)
    {
        var attributes = await sqs.GetQueueAttributesAsync(url, ["QueueArn"], cancellationToken: cancellationToken);
        return attributes.GetValueOrDefault("QueueArn") ?? throw new InvalidOperationException($"SQS returned no QueueArn for '{UrlRedaction.Redact(url)}'.");
    }
}
