using System.Globalization;
using System.Text;
using BulkDispatch.Core;

namespace BulkDispatch.Flush.Reporting;

/// <summary>Why a flush run stopped receiving.</summary>
public enum FlushStopReason
{
    /// <summary>
    /// Every receive loop got an empty answer: the queue is drained, unless a receive was abandoned in flight (see
    /// <see cref="FlushReport.AbandonedReceives"/>).
    /// </summary>
    QueueEmpty,

    /// <summary><c>MaxDuration</c> passed.</summary>
    MaxDuration,

    /// <summary><c>MaxMessagesPerRun</c> messages were received.</summary>
    MessageLimit,

    /// <summary>The host asked the run to stop.</summary>
    Cancelled,

    /// <summary>The Event API or SQS kept failing; undelivered messages stay for the next run.</summary>
    TransientFailure,
}

/// <summary>What one flush run did. Counts are of this run only.</summary>
public sealed record FlushReport
{
    /// <summary>An id for this run, also in its log lines.</summary>
    public required string RunId { get; init; }

    /// <summary>When the run started.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>How long the run took.</summary>
    public required TimeSpan Duration { get; init; }

    /// <summary>
    /// True only when the run drained the queue (<see cref="QueueDrained"/>): it stopped because the queue answered empty, no
    /// receive was abandoned in flight, everything it received was deleted (accepted or dead-lettered; a dry run deletes nothing) and nothing failed transiently.
    /// A run cut short by <c>MaxDuration</c>, <c>MaxMessagesPerRun</c> or the host is not complete, even if all it took was delivered.
    /// </summary>
    public required bool Complete { get; init; }

    /// <summary>Why receiving stopped.</summary>
    public required FlushStopReason StopReason { get; init; }

    /// <summary>
    /// True when the run stopped because the queue answered empty and no receive of the run was abandoned in flight (what
    /// SQS may have leased to one is still in the queue). See <see cref="Complete"/> for whether all it took was also delivered.
    /// </summary>
    public bool QueueDrained => StopReason == FlushStopReason.QueueEmpty && AbandonedReceives == 0;

    /// <summary>True for a dry run: nothing was posted, deleted or dead-lettered.</summary>
    public required bool DryRun { get; init; }

    /// <summary>SQS messages received.</summary>
    public required long MessagesReceived { get; init; }

    /// <summary>SQS messages deleted from the queue (all their events accepted or dead-lettered).</summary>
    public required long MessagesDeleted { get; init; }

    /// <summary>SDK events (LogEvents) decoded from the messages.</summary>
    public required long EventsReceived { get; init; }

    /// <summary>SDK events all of whose visitors Optimizely accepted.</summary>
    public required long EventsDelivered { get; init; }

    /// <summary>Visitors Optimizely accepted.</summary>
    public required long VisitorsDelivered { get; init; }

    /// <summary>Event API requests made (each split half counts; retries do not).</summary>
    public required long RequestsSent { get; init; }

    /// <summary>Event API requests answered 2xx.</summary>
    public required long RequestsAccepted { get; init; }

    /// <summary>Body bytes of the requests made.</summary>
    public required long BytesSent { get; init; }

    /// <summary>Dead-lettered messages by reason code (see <c>DeadLetterReason</c>).</summary>
    public required IReadOnlyDictionary<string, long> DeadLettered { get; init; }

    /// <summary>Requests or receives that failed after their retries, and permanent failures that could not be dead-lettered.</summary>
    public required long TransientFailures { get; init; }

    /// <summary>
    /// Receive attempts abandoned while SQS may have been serving them (timed out, or cancelled in flight). SQS may have
    /// leased messages to them that this run never saw: they reappear after the queue's VisibilityTimeout.
    /// </summary>
    public long AbandonedReceives { get; init; }

    /// <summary>The most messages the <see cref="AbandonedReceives"/> may have leased (what they asked for, at most 10 each).</summary>
    public long MessagesMaybeLeased { get; init; }

    /// <summary>The last transient failure, for the log.</summary>
    public string? LastFailure { get; init; }

    /// <summary>SQS's approximate count of messages left in the queue (visible and in flight) after the run.</summary>
    public long? ApproximateMessagesLeft { get; init; }

    /// <summary>Dry run only: the requests that would have been sent.</summary>
    public IReadOnlyList<PlannedRequest> PlannedRequests { get; init; } = [];

    /// <summary>A run that stopped on a transient failure before it received anything.</summary>
    internal static FlushReport NotStarted(string runId, DateTimeOffset startedAt, TimeSpan duration, string failure) => new()
    {
        RunId = runId,
        StartedAt = startedAt,
        Duration = duration,
        Complete = false,
        StopReason = FlushStopReason.TransientFailure,
        DryRun = false,
        MessagesReceived = 0,
        MessagesDeleted = 0,
        EventsReceived = 0,
        EventsDelivered = 0,
        VisitorsDelivered = 0,
        RequestsSent = 0,
        RequestsAccepted = 0,
        BytesSent = 0,
        DeadLettered = new SortedDictionary<string, long>(StringComparer.Ordinal),
        TransientFailures = 1,
        LastFailure = failure,
    };

    /// <summary>A few lines for people.</summary>
    public string ToText()
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(c, $"Flush run {RunId} {(Complete ? "complete" : "INCOMPLETE")}{(DryRun ? " (dry run: nothing sent or deleted)" : "")}: stopped because {StopDescription}, in {Duration.TotalSeconds:0.0} s.").AppendLine();
        text.Append(c, $"  messages: {MessagesReceived} received, {MessagesDeleted} deleted").AppendLine();
        text.Append(c, $"  events:   {EventsReceived} received, {EventsDelivered} delivered ({VisitorsDelivered} visitors)").AppendLine();
        text.Append(c, $"  requests: {RequestsSent} sent, {RequestsAccepted} accepted, {BytesSent} bytes").AppendLine();
        text.Append(c, $"  dead-lettered: {(DeadLettered.Count == 0 ? "none" : string.Join(", ", DeadLettered.Select(p => $"{p.Value} {p.Key}")))}").AppendLine();
        text.Append(c, $"  transient failures: {TransientFailures}{(LastFailure is null ? "" : $" (last: {LastFailure})")}").AppendLine();
        if (AbandonedReceives > 0)
        {
            text.Append(c, $"  abandoned receives: {AbandonedReceives} ({LeasedNote})").AppendLine();
        }

        if (ApproximateMessagesLeft is { } left)
        {
            text.Append(c, $"  left in the queue (approximate): {left}").AppendLine();
        }

        foreach (var r in PlannedRequests)
        {
            text.Append(c, $"  would POST {r.Bytes} bytes, {r.Visitors} visitors to {LogText.Escape(r.Url)} (account {LogText.Escape(r.AccountId)}){(r.ValidJson ? "" : " INVALID JSON")}").AppendLine();
        }

        return text.ToString();
    }

    /// <summary>Why receiving stopped, in words (the queue answered empty is not drained while an abandoned receive may hold messages).</summary>
    public string StopDescription => StopReason == FlushStopReason.QueueEmpty && AbandonedReceives > 0
        ? $"the queue answered empty, but {LeasedNote}"
        : Describe(StopReason);

    private string LeasedNote => string.Create(
        CultureInfo.InvariantCulture,
        $"{AbandonedReceives} receive(s) were abandoned in flight: up to {MessagesMaybeLeased} messages SQS may have leased to them reappear after the queue's VisibilityTimeout");

    private static string Describe(FlushStopReason reason) => reason switch
    {
        FlushStopReason.QueueEmpty => "the queue is empty",
        FlushStopReason.MaxDuration => "MaxDuration passed before the queue was drained (more may be waiting)",
        FlushStopReason.MessageLimit => "MaxMessagesPerRun was reached before the queue was drained (more may be waiting)",
        FlushStopReason.Cancelled => "the host asked it to stop before the queue was drained (more may be waiting)",
        _ => "of a transient failure (undelivered messages stay for the next run)",
    };
}

/// <summary>A request a dry run would have sent.</summary>
/// <param name="Url">Where it would go.</param>
/// <param name="AccountId">The batch's account id, for reading.</param>
/// <param name="Visitors">How many visitors it holds.</param>
/// <param name="Bytes">Its body size.</param>
/// <param name="ValidJson">Whether the merged body parses as JSON.</param>
public sealed record PlannedRequest(string Url, string AccountId, int Visitors, int Bytes, bool ValidJson);

/// <summary>A flush run's counts so far, for progress lines.</summary>
/// <param name="Elapsed">Time since the run started.</param>
/// <param name="MessagesReceived">Messages received so far.</param>
/// <param name="MessagesDeleted">Messages deleted so far.</param>
/// <param name="VisitorsDelivered">Visitors accepted so far.</param>
/// <param name="RequestsSent">Event API requests made so far.</param>
/// <param name="DeadLettered">Messages dead-lettered so far.</param>
/// <param name="BufferedBytes">Received bytes held in memory now.</param>
public sealed record FlushProgress(TimeSpan Elapsed, long MessagesReceived, long MessagesDeleted, long VisitorsDelivered, long RequestsSent, long DeadLettered, long BufferedBytes)
{
    /// <summary>One line for a terminal.</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Elapsed.TotalSeconds,6:0.0} s  received {MessagesReceived} messages, deleted {MessagesDeleted}, delivered {VisitorsDelivered} visitors in {RequestsSent} requests, dead-lettered {DeadLettered}, holding {BufferedBytes / 1024} KiB");
}
