using Amazon.SQS.Model;

namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>Which dead-lettered messages a redrive moves: those whose reason matches, at most <see cref="Max"/>.</summary>
internal sealed class RedriveSelection
{
    private readonly HashSet<string> _reasons;

    /// <exception cref="ArgumentException">A reason is empty, or <paramref name="max"/> is below 1.</exception>
    public RedriveSelection(IEnumerable<string> reasons, long? max)
    {
        _reasons = new HashSet<string>(StringComparer.Ordinal);
        foreach (var reason in reasons)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(reason, nameof(reasons));
            _reasons.Add(reason.Trim());
        }

        if (max is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(max), max, "Move at least one message, or give no maximum.");
        }

        Max = max;
    }

    public long? Max { get; }

    /// <summary>The selected reason codes, ordered; empty: all.</summary>
    public IReadOnlyList<string> Reasons => [.. _reasons.Order(StringComparer.Ordinal)];

    /// <summary>True when not every message is to move: SQS's message-move task, which moves them all, cannot do it.</summary>
    public bool SelectsSome => _reasons.Count > 0 || Max is not null;

    public bool Matches(string reason) => _reasons.Count == 0 || _reasons.Contains(reason);

    /// <summary>How many more may move once <paramref name="attempted"/> were tried (moved or failed).</summary>
    public long Remaining(long attempted) => Max is { } max ? Math.Max(0, max - attempted) : long.MaxValue;

    /// <summary>
    /// Sorts one received batch: messages to move (matching, new, within <paramref name="remaining"/>); messages to make
    /// visible again (already handled in this run, or over the limit); and messages skipped because their reason does not
    /// match, which are made visible again too and added to <paramref name="handled"/> so they are counted once.
    /// </summary>
    public BatchTriage Triage(IReadOnlyList<Message> messages, HashSet<string> handled, long remaining)
    {
        bool anyNew = messages.Any(m => !handled.Contains(m.MessageId ?? ""));
        var triage = new BatchTriage(anyNew);
        foreach (var m in messages)
        {
            string id = m.MessageId ?? "";
            string reason = DeadLetterReasons.Of(m);
            if (handled.Contains(id))
            {
                triage.Release.Add(m); // seen before in this run (skipped or failed): not counted twice
            }
            else if (!Matches(reason))
            {
                handled.Add(id);
                triage.Release.Add(m);
                triage.Skipped.Add(reason);
            }
            else if (triage.ToMove.Count < remaining)
            {
                triage.ToMove.Add(m);
            }
            else
            {
                triage.Release.Add(m); // over the maximum: left as it was
            }
        }

        return triage;
    }

    /// <summary>A dry run's answer from the reasons counted in the dead-letter queue: what would move and what would stay, per reason.</summary>
    public DryRunPlan Plan(IReadOnlyDictionary<string, long> counts)
    {
        var plan = new DryRunPlan();
        foreach (var (reason, count) in counts.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (Matches(reason))
            {
                long take = Math.Min(count, Remaining(plan.WouldMove));
                plan.WouldMove += take;
                if (take > 0)
                {
                    plan.MoveByReason[reason] = take;
                }
            }
            else
            {
                plan.Skipped += count;
                plan.SkipByReason[reason] = count;
            }
        }

        return plan;
    }
}

/// <summary>One received batch, sorted by <see cref="RedriveSelection.Triage"/>.</summary>
/// <param name="AnyNew">The batch held a message not handled before in this run.</param>
internal sealed record BatchTriage(bool AnyNew)
{
    public List<Message> ToMove { get; } = [];

    /// <summary>To make visible again at once, skipped ones included.</summary>
    public List<Message> Release { get; } = [];

    /// <summary>The reason of each message skipped because it did not match.</summary>
    public List<string> Skipped { get; } = [];
}

/// <summary>What a dry run would move and leave, per reason.</summary>
internal sealed class DryRunPlan
{
    public long WouldMove { get; set; }

    public long Skipped { get; set; }

    public SortedDictionary<string, long> MoveByReason { get; } = new(StringComparer.Ordinal);

    public SortedDictionary<string, long> SkipByReason { get; } = new(StringComparer.Ordinal);
}
