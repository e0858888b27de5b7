using System.Globalization;
using System.Net;
using Amazon.Runtime;
using Amazon.SQS.Model;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Cli.Queues;

/// <summary>How a redrive moved (or would move) the messages.</summary>
internal static class RedriveMethod
{
    /// <summary>SQS's own <c>StartMessageMoveTask</c>.</summary>
    public const string MessageMoveTask = "message-move-task";

    /// <summary>ReceiveMessage from the dead-letter queue, SendMessageBatch to the queue, DeleteMessageBatch of what was sent.</summary>
    public const string ReceiveSendDelete = "receive-send-delete";

    /// <summary>A dry run: the dead-letter queue was peeked (visibility 0) and nothing moved.</summary>
    public const string Peek = "peek";
}

/// <summary>What to redrive.</summary>
internal sealed record RedriveRequest
{
    /// <summary>Only messages with one of these reason codes (<see cref="QueueInspector.NoReason"/> for none); empty: all.</summary>
    public IReadOnlySet<string> Reasons { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Move at most this many messages.</summary>
    public long? Max { get; init; }

    /// <summary>Count what would move; move nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>How many messages a dry run examines at most.</summary>
    public int DryRunScanLimit { get; init; } = 100_000;

    public bool Filtered => Reasons.Count > 0;

    public bool Matches(string reason) => Reasons.Count == 0 || Reasons.Contains(reason);
}

/// <summary>A message that could not be moved (it stays in the dead-letter queue), or that was sent but not deleted.</summary>
internal sealed record RedriveFailure(string MessageId, string Reason, string Error);

/// <summary>What a redrive did.</summary>
internal sealed record RedriveResult
{
    public required string Method { get; init; }

    /// <summary>Why SQS's message-move task was not used, when it was not.</summary>
    public string? MethodNote { get; init; }

    public required bool DryRun { get; init; }

    public required string QueueUrl { get; init; }

    public required string DeadLetterQueueUrl { get; init; }

    public required IReadOnlyList<string> Reasons { get; init; }

    public long? Max { get; init; }

    /// <summary>Messages sent to the queue and deleted from the dead-letter queue (approximate for the move task).</summary>
    public long Moved { get; init; }

    /// <summary>Dry run: messages that would move.</summary>
    public long WouldMove { get; init; }

    /// <summary>Messages left in the dead-letter queue because their reason did not match (made visible again at once).</summary>
    public long Skipped { get; init; }

    /// <summary>Messages that could not be sent: they stay in the dead-letter queue.</summary>
    public long Failed { get; init; }

    /// <summary>Messages sent to the queue whose delete from the dead-letter queue failed: they are in both queues.</summary>
    public long SentButNotDeleted { get; init; }

    /// <summary>Moved (or, in a dry run, would move) per reason code.</summary>
    public SortedDictionary<string, long> MovedByReason { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Skipped per reason code.</summary>
    public SortedDictionary<string, long> SkippedByReason { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The first failures (at most 100), each with its message id.</summary>
    public IReadOnlyList<RedriveFailure> Failures { get; init; } = [];

    /// <summary>Dry run: the counts cover only part of the dead-letter queue.</summary>
    public bool Sample { get; init; }

    /// <summary>True when the run was stopped (Ctrl-C / SIGTERM) before the dead-letter queue was done.</summary>
    public bool Cancelled { get; init; }

    public TimeSpan Duration { get; init; }

    /// <summary>Nothing failed and the run was not cut short.</summary>
    public bool Complete => Failed == 0 && SentButNotDeleted == 0 && !Cancelled;
}

/// <summary>A snapshot for the progress line.</summary>
internal readonly record struct RedriveProgress(string Method, long Moved, long Skipped, long Failed, long? ToMove)
{
    public override string ToString() => ToMove is { } total
        ? string.Create(CultureInfo.InvariantCulture, $"redrive ({Method}): about {Moved} of {total} moved")
        : string.Create(CultureInfo.InvariantCulture, $"redrive ({Method}): {Moved} moved, {Skipped} skipped, {Failed} failed");
}

/// <summary>
/// Moves dead-lettered messages back to the main queue, exactly once each: SQS's message-move task when the endpoint
/// has it and everything is to move, otherwise receive from the dead-letter queue, send to the queue (body unchanged,
/// the <c>BulkDispatch.Reason</c>/<c>Detail</c> attributes stripped), and delete only what was sent.
/// </summary>
internal sealed class DeadLetterRedriver(SqsGateway sqs, string queueUrl, string deadLetterQueueUrl, Action<RedriveProgress> progress, Action<string> note)
{
    /// <summary>How long a received dead-letter message stays hidden while it is being moved.</summary>
    private const int HoldSeconds = 120;

    /// <summary>Receives in a row that bring only messages already handled, after which the run stops.</summary>
    private const int IdleReceiveLimit = 10;

    private const int MaxFailuresListed = 100;
    private static readonly TimeSpan MoveTaskPollInterval = TimeSpan.FromSeconds(2);

    private readonly List<RedriveFailure> _failures = [];
    private readonly SortedDictionary<string, long> _movedByReason = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, long> _skippedByReason = new(StringComparer.Ordinal);
    private long _moved, _skipped, _failed, _notDeleted;

    public async Task<RedriveResult> RunAsync(RedriveRequest request, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        if (request.DryRun)
        {
            return await DryRunAsync(request, started, cancellationToken);
        }

        string? methodNote;
        if (request.Filtered || request.Max is not null)
        {
            methodNote = "--reason and --max select messages, and SQS's message-move task can only move them all";
        }
        else
        {
            var task = await TryMoveTaskAsync(started, cancellationToken);
            if (task.Result is { } done)
            {
                return done;
            }

            methodNote = task.Note;
        }

        note($"Moving with receive, send, delete: {methodNote}.");
        return await ReceiveSendDeleteAsync(request, methodNote, started, cancellationToken);
    }

    // ---- dry run --------------------------------------------------------------------------------------------

    private async Task<RedriveResult> DryRunAsync(RedriveRequest request, DateTime started, CancellationToken cancellationToken)
    {
        note("Dry run: peeking at the dead-letter queue (visibility timeout 0); nothing moves.");
        var stats = await QueueInspector.ReadAsync(sqs, deadLetterQueueUrl, "BulkDispatch__Sqs__DeadLetterQueueUrl", cancellationToken);
        var sample = await QueueInspector.PeekReasonsAsync(sqs, deadLetterQueueUrl, stats.Visible, stats.Total, request.DryRunScanLimit, cancellationToken);
        long would = 0;
        var movedByReason = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var skippedByReason = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long skipped = 0;
        foreach (var (reason, count) in sample.Counts)
        {
            if (request.Matches(reason))
            {
                long take = request.Max is { } max ? Math.Min(count, Math.Max(0, max - would)) : count;
                would += take;
                if (take > 0)
                {
                    movedByReason[reason] = take;
                }
            }
            else
            {
                skipped += count;
                skippedByReason[reason] = count;
            }
        }

        return new RedriveResult
        {
            Method = RedriveMethod.Peek,
            MethodNote = "dry run",
            DryRun = true,
            QueueUrl = UrlRedaction.Redact(queueUrl),
            DeadLetterQueueUrl = UrlRedaction.Redact(deadLetterQueueUrl),
            Reasons = [.. request.Reasons.Order(StringComparer.Ordinal)],
            Max = request.Max,
            WouldMove = would,
            Skipped = skipped,
            MovedByReason = movedByReason,
            SkippedByReason = skippedByReason,
            Sample = sample.Sample,
            Cancelled = cancellationToken.IsCancellationRequested,
            Duration = DateTime.UtcNow - started,
        };
    }

    // ---- SQS's message-move task -----------------------------------------------------------------------------

    private async Task<(RedriveResult? Result, string Note)> TryMoveTaskAsync(DateTime started, CancellationToken cancellationToken)
    {
        string sourceArn = await ArnAsync(deadLetterQueueUrl, cancellationToken);
        string destinationArn = await ArnAsync(queueUrl, cancellationToken);
        string handle;
        long newestBefore;
        try
        {
            // SQS runs one task per queue at a time, so the newest task started after this one is ours (a finished
            // task no longer shows its handle).
            newestBefore = NewestStart(await ListTasksAsync(sourceArn, cancellationToken)) ?? long.MinValue;
            var start = new StartMessageMoveTaskRequest { SourceArn = sourceArn, DestinationArn = destinationArn };
            handle = (await sqs.CallAsync("StartMessageMoveTask", (client, token) => client.StartMessageMoveTaskAsync(start, token), cancellationToken: cancellationToken)).TaskHandle;
        }
        catch (SqsRequestFailedException ex) when (ex.InnerException is AmazonServiceException service && IsUnsupported(service))
        {
            return (null, $"the endpoint does not support StartMessageMoveTask ({ex.ErrorCode})");
        }

        note($"Moving with SQS's message-move task (StartMessageMoveTask from {sourceArn} to {destinationArn}); the BulkDispatch.Reason/Detail attributes stay on the messages (the flush ignores them).");
        ListMessageMoveTasksResultEntry? entry = null;
        bool cancelled = false;
        var lookingSince = DateTime.UtcNow;
        while (true)
        {
            try
            {
                await Task.Delay(MoveTaskPollInterval, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                cancelled = true;
                note("Stopping: cancelling the message-move task; messages already moved stay moved.");
                try
                {
                    var cancel = new CancelMessageMoveTaskRequest { TaskHandle = handle };
                    await sqs.CallAsync("CancelMessageMoveTask", (client, token) => client.CancelMessageMoveTaskAsync(cancel, token), cancellationToken: CancellationToken.None);
                }
                catch (SqsRequestFailedException ex)
                {
                    note($"Could not cancel the message-move task ({ex.ErrorCode}): {ex.InnerException?.Message} It keeps running in SQS (task handle {handle}).");
                }
            }

            var tasks = await ListTasksAsync(sourceArn, CancellationToken.None);
            entry = tasks.FirstOrDefault(r => r.TaskHandle == handle)
                ?? tasks.Where(r => (r.StartedTimestamp ?? long.MinValue) > newestBefore).OrderByDescending(r => r.StartedTimestamp).FirstOrDefault()
                ?? entry;
            if (entry is not null)
            {
                progress(new RedriveProgress(RedriveMethod.MessageMoveTask, entry.ApproximateNumberOfMessagesMoved ?? 0, 0, 0, entry.ApproximateNumberOfMessagesToMove));
            }
            else if (DateTime.UtcNow - lookingSince > TimeSpan.FromMinutes(1))
            {
                note($"The message-move task does not appear in ListMessageMoveTasks; it may still run in SQS (task handle {handle}). Check with 'bulkdispatch stats'.");
                cancelled = true;
            }

            if (cancelled || entry?.Status is "COMPLETED" or "FAILED" or "CANCELLED")
            {
                break;
            }
        }

        long moved = entry?.ApproximateNumberOfMessagesMoved ?? 0;
        var failures = new List<RedriveFailure>();
        long failed = 0;
        if (entry?.Status == "FAILED")
        {
            failed = Math.Max(0, (entry.ApproximateNumberOfMessagesToMove ?? 0) - moved);
            failures.Add(new RedriveFailure("", "", $"the message-move task failed: {entry.FailureReason}; the messages it did not move stay in the dead-letter queue"));
        }

        return (new RedriveResult
        {
            Method = RedriveMethod.MessageMoveTask,
            MethodNote = "counts are SQS's approximate numbers",
            DryRun = false,
            QueueUrl = UrlRedaction.Redact(queueUrl),
            DeadLetterQueueUrl = UrlRedaction.Redact(deadLetterQueueUrl),
            Reasons = [],
            Moved = moved,
            Failed = failed,
            Failures = failures,
            Cancelled = cancelled || entry?.Status == "CANCELLED",
            Duration = DateTime.UtcNow - started,
        }, "");
    }

    private async Task<List<ListMessageMoveTasksResultEntry>> ListTasksAsync(string sourceArn, CancellationToken cancellationToken)
    {
        var request = new ListMessageMoveTasksRequest { SourceArn = sourceArn, MaxResults = 10 };
        return (await sqs.CallAsync("ListMessageMoveTasks", (client, token) => client.ListMessageMoveTasksAsync(request, token), cancellationToken: cancellationToken)).Results ?? [];
    }

    private static long? NewestStart(List<ListMessageMoveTasksResultEntry> tasks) => tasks.Count == 0 ? null : tasks.Max(t => t.StartedTimestamp);

    /// <summary>The endpoint does not know the operation (emulators, some proxies and partitions).</summary>
    private static bool IsUnsupported(AmazonServiceException ex) =>
        ex.ErrorCode is "InvalidAction" or "UnknownOperationException" or "UnknownOperation" or "UnsupportedOperation"
            or "AWS.SimpleQueueService.UnsupportedOperation" or "NotImplemented" or "InvalidAction.NotSupported"
        || ex.StatusCode is HttpStatusCode.NotImplemented or HttpStatusCode.NotFound;

    private async Task<string> ArnAsync(string url, CancellationToken cancellationToken)
    {
        var attributes = await sqs.GetQueueAttributesAsync(url, ["QueueArn"], cancellationToken: cancellationToken);
        return attributes.GetValueOrDefault("QueueArn") ?? throw new InvalidOperationException($"SQS returned no QueueArn for '{UrlRedaction.Redact(url)}'.");
    }

    // ---- receive, send, delete --------------------------------------------------------------------------------

    private async Task<RedriveResult> ReceiveSendDeleteAsync(RedriveRequest request, string? methodNote, DateTime started, CancellationToken cancellationToken)
    {
        // Every message handled in this run (moved, skipped, failed): one that comes back is only released again.
        var handled = new HashSet<string>(StringComparer.Ordinal);
        int idle = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            long attempted = _moved + _failed + _notDeleted;
            long remaining = request.Max is { } max ? max - attempted : long.MaxValue;
            if (remaining <= 0)
            {
                break;
            }

            IReadOnlyList<Message> messages;
            try
            {
                messages = await QueueInspector.ReceiveAsync(sqs, deadLetterQueueUrl, (int)Math.Min(10, remaining), HoldSeconds, ["All"], cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            if (messages.Count == 0)
            {
                break;
            }

            bool anyNew = messages.Any(m => !handled.Contains(m.MessageId ?? ""));
            var toMove = new List<Message>();
            var release = new List<Message>();
            foreach (var m in messages)
            {
                string id = m.MessageId ?? "";
                string reason = QueueInspector.ReasonOf(m);
                if (handled.Contains(id))
                {
                    release.Add(m); // seen before in this run (skipped or failed): not counted twice
                }
                else if (!request.Matches(reason))
                {
                    handled.Add(id);
                    release.Add(m);
                    _skipped++;
                    _skippedByReason[reason] = _skippedByReason.GetValueOrDefault(reason) + 1;
                }
                else if (toMove.Count < remaining)
                {
                    toMove.Add(m);
                }
                else
                {
                    release.Add(m); // over --max: left as it was
                }
            }

            // Skipped messages are made visible again at once so nothing stays hidden.
            if (release.Count > 0)
            {
                int refused = await QueueInspector.ReleaseAsync(sqs, deadLetterQueueUrl, release, CancellationToken.None);
                if (refused > 0)
                {
                    note(string.Create(CultureInfo.InvariantCulture, $"{refused} skipped messages could not be made visible at once; they reappear after {HoldSeconds} s."));
                }
            }

            idle = anyNew ? 0 : idle + 1;
            if (toMove.Count > 0)
            {
                // Once sending starts, the batch is finished (sent, then deleted) even if a stop is asked for.
                await MoveAsync(toMove, handled);
            }

            progress(new RedriveProgress(RedriveMethod.ReceiveSendDelete, _moved, _skipped, _failed + _notDeleted, null));
            if (idle >= IdleReceiveLimit)
            {
                break;
            }
        }

        return new RedriveResult
        {
            Method = RedriveMethod.ReceiveSendDelete,
            MethodNote = methodNote,
            DryRun = false,
            QueueUrl = UrlRedaction.Redact(queueUrl),
            DeadLetterQueueUrl = UrlRedaction.Redact(deadLetterQueueUrl),
            Reasons = [.. request.Reasons.Order(StringComparer.Ordinal)],
            Max = request.Max,
            Moved = _moved,
            Skipped = _skipped,
            Failed = _failed,
            SentButNotDeleted = _notDeleted,
            MovedByReason = _movedByReason,
            SkippedByReason = _skippedByReason,
            Failures = _failures,
            Cancelled = cancellationToken.IsCancellationRequested,
            Duration = DateTime.UtcNow - started,
        };
    }

    private async Task MoveAsync(List<Message> batch, HashSet<string> handled)
    {
        var sent = await SendAsync(batch);
        var sentMessages = batch.Where((_, i) => sent[i]).ToList();
        // Deleted only once sent, so none is lost; one retry of what SQS failed for its own reasons.
        var deleted = await sqs.DeleteBatchAsync(deadLetterQueueUrl, sentMessages.Select(m => m.ReceiptHandle).ToList(), SqsRetryPolicy.Attempts(2));
        var unsent = new List<Message>();
        int d = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            var m = batch[i];
            string reason = QueueInspector.ReasonOf(m);
            handled.Add(m.MessageId ?? "");
            if (!sent[i])
            {
                unsent.Add(m);
            }
            else if (deleted.Outcomes[d++] is { Succeeded: false } deleteError)
            {
                _notDeleted++;
                Fail(m, reason, $"sent to the queue but not deleted from the dead-letter queue ({deleteError.Code}: {deleteError.Message}); it is now in both");
            }
            else
            {
                _moved++;
                _movedByReason[reason] = _movedByReason.GetValueOrDefault(reason) + 1;
            }
        }

        if (unsent.Count > 0)
        {
            // Not sent: they stay in the dead-letter queue, visible again at once.
            await QueueInspector.ReleaseAsync(sqs, deadLetterQueueUrl, unsent, CancellationToken.None);
        }
    }

    /// <summary>Sends the messages to the queue (body unchanged, reason and detail stripped); true for each one SQS accepted. Failures are recorded.</summary>
    private async Task<bool[]> SendAsync(List<Message> messages)
    {
        var result = await sqs.SendBatchAsync(queueUrl, messages.Select(m => new SqsOutgoingMessage(m.Body ?? "", KeptAttributes(m))).ToList());
        var ok = new bool[messages.Count];
        for (int i = 0; i < messages.Count; i++)
        {
            ok[i] = result.Outcomes[i].Succeeded;
            if (!ok[i])
            {
                _failed++;
                var failure = result.Outcomes[i];
                Fail(messages[i], QueueInspector.ReasonOf(messages[i]), $"SendMessageBatch did not take it ({failure.Code}): {failure.Message}");
            }
        }

        return ok;
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

    private void Fail(Message m, string reason, string error)
    {
        if (_failures.Count < MaxFailuresListed)
        {
            _failures.Add(new RedriveFailure(m.MessageId ?? "", reason, error));
        }
    }
}
