using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.QueueOperations.Statistics;

namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>One way to redrive: SQS's message-move task, receive-send-delete, or the dry run's peek.</summary>
internal interface IRedriveStrategy
{
    /// <summary>Moves (or counts) what <paramref name="job"/> selects, or says why it cannot run on this endpoint.</summary>
    Task<RedriveAttempt> RunAsync(RedriveJob job, CancellationToken cancellationToken);
}

/// <summary>A strategy's answer: its result, or why it is not available here (the next strategy then runs).</summary>
internal readonly record struct RedriveAttempt(RedriveResult? Result, string? Unavailable)
{
    public static RedriveAttempt Done(RedriveResult result) => new(result, null);

    public static RedriveAttempt NotAvailable(string why) => new(null, why);
}

/// <summary>Everything a strategy works with: the queues, the selection, the clock and where to report.</summary>
internal sealed record RedriveJob
{
    public required SqsGateway Sqs { get; init; }

    public required string QueueUrl { get; init; }

    public required string DeadLetterQueueUrl { get; init; }

    /// <summary>The dead-letter queue's counts, read before anything moved.</summary>
    public required QueueStatistics DeadLetterQueue { get; init; }

    public required RedriveSelection Selection { get; init; }

    public int DryRunScanLimit { get; init; } = 100_000;

    public required TimeProvider Time { get; init; }

    /// <summary>When the redrive started (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public required long Started { get; init; }

    public Action<RedriveProgress> Progress { get; init; } = _ => { };

    public Action<string> Note { get; init; } = _ => { };

    /// <summary>Why the strategy runs instead of SQS's message-move task, when it does.</summary>
    public string? MethodNote { get; init; }

    /// <summary>A result with the queues, the selection and the duration filled in.</summary>
    public RedriveResult Result(string method, string? methodNote, bool cancelled) => new()
    {
        Method = method,
        MethodNote = methodNote,
        DryRun = false,
        QueueUrl = UrlRedaction.Redact(QueueUrl),
        DeadLetterQueueUrl = UrlRedaction.Redact(DeadLetterQueueUrl),
        Reasons = Selection.Reasons,
        Max = Selection.Max,
        Cancelled = cancelled,
        Duration = Time.GetElapsedTime(Started),
    };
}
