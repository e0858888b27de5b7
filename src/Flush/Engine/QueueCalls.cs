using BulkDispatch.Core.Sqs;

namespace BulkDispatch.Flush.Engine;

/// <summary>A message as the receiver hands it on: what the rest of the run needs of it, nothing of the SDK's types.</summary>
/// <param name="MessageId">SQS's id of the message.</param>
/// <param name="ReceiptHandle">The handle of this receive (only the latest one deletes or extends).</param>
/// <param name="Body">The message text.</param>
internal readonly record struct ReceivedMessage(string MessageId, string ReceiptHandle, string Body);

/// <summary>What became of one entry of a batch call to the queue.</summary>
internal enum EntryStatus
{
    /// <summary>SQS did it.</summary>
    Done,

    /// <summary>Deliberately not done (a dry run): the message stays where it is.</summary>
    Withheld,

    /// <summary>SQS refused the entry, or the whole call failed.</summary>
    Failed,
}

/// <summary>The outcome of one entry of a batch call; <paramref name="Code"/> and <paramref name="Detail"/> say why it failed.</summary>
internal readonly record struct EntryResult(EntryStatus Status, string? Code = null, string? Detail = null)
{
    public static readonly EntryResult Done = new(EntryStatus.Done);

    public static readonly EntryResult Withheld = new(EntryStatus.Withheld);

    public static EntryResult Failed(string code, string detail) => new(EntryStatus.Failed, code, detail);

    /// <summary>Every entry of a call that failed as a whole.</summary>
    public static EntryResult[] AllFailed(int count, QueueCallException error) =>
        Enumerable.Repeat(Failed(error.Kind, error.Message), count).ToArray();

    /// <summary>The gateway's outcome of every entry of a batch call, in order.</summary>
    public static EntryResult[] From(SqsBatchResult result) =>
        result.Outcomes.Select(o => o.Succeeded ? Done : Failed(o.Code ?? "", o.Message ?? "")).ToArray();
}

/// <summary>
/// A call to the queue failed (SQS refused it, or the connection failed). The engine's stages see only
/// this, never the SDK's exceptions, so the queue client behind them can change without touching them.
/// A cancelled call is an <see cref="OperationCanceledException"/>, as everywhere.
/// </summary>
internal sealed class QueueCallException : Exception
{
    public QueueCallException()
        : this("The queue call failed.", "Unknown", fatal: false, inner: null)
    {
    }

    public QueueCallException(string message)
        : this(message, "Unknown", fatal: false, inner: null)
    {
    }

    public QueueCallException(string message, Exception inner)
        : this(message, inner.GetType().Name, fatal: false, inner)
    {
    }

    public QueueCallException(string message, string kind, bool fatal, Exception? inner)
        : base(message, inner)
    {
        Kind = kind;
        Fatal = fatal;
    }

    /// <summary>SQS's error code, or the kind of failure (e.g. <c>HttpRequestException</c>).</summary>
    public string Kind { get; }

    /// <summary>Retrying cannot help (no such queue, access denied): the run stops and says so.</summary>
    public bool Fatal { get; }

    /// <summary>The gateway's failure, as the stages see it.</summary>
    public static QueueCallException From(SqsRequestFailedException failure) =>
        new(failure.Message, failure.ErrorCode, failure.Kind == SqsFailureKind.Fatal, failure);
}
