namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>The counts of a receive-send-delete redrive as it goes: what moved, was skipped or failed, per reason.</summary>
internal sealed class RedriveTally
{
    /// <summary>Failures listed in the result at most (all are counted).</summary>
    public const int MaxFailuresListed = 100;

    private readonly List<RedriveFailure> _failures = [];

    public long Moved { get; private set; }

    public long Skipped { get; private set; }

    /// <summary>Not sent: still in the dead-letter queue.</summary>
    public long Failed { get; private set; }

    /// <summary>Sent, but not deleted from the dead-letter queue: in both queues.</summary>
    public long SentButNotDeleted { get; private set; }

    public SortedDictionary<string, long> MovedByReason { get; } = new(StringComparer.Ordinal);

    public SortedDictionary<string, long> SkippedByReason { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<RedriveFailure> Failures => _failures;

    /// <summary>Messages the run tried to move (what counts against the maximum); skipped ones do not count.</summary>
    public long Attempted => Moved + Failed + SentButNotDeleted;

    public void Move(string reason)
    {
        Moved++;
        MovedByReason[reason] = MovedByReason.GetValueOrDefault(reason) + 1;
    }

    public void Skip(string reason)
    {
        Skipped++;
        SkippedByReason[reason] = SkippedByReason.GetValueOrDefault(reason) + 1;
    }

    public void NotSent(string messageId, string reason, string error)
    {
        Failed++;
        List(new RedriveFailure(messageId, reason, error));
    }

    public void NotDeleted(string messageId, string reason, string error)
    {
        SentButNotDeleted++;
        List(new RedriveFailure(messageId, reason, error));
    }

    /// <summary>The counts for a progress display; failures include messages sent but not deleted.</summary>
    public RedriveProgress Progress(string method) => new(method, Moved, Skipped, Failed + SentButNotDeleted, null);

    private void List(RedriveFailure failure)
    {
        if (_failures.Count < MaxFailuresListed)
        {
            _failures.Add(failure);
        }
    }
}
