using Amazon.SQS.Model;

namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>What became of a message-move task, as <see cref="MoveTaskWatch"/> last saw it.</summary>
internal enum MoveTaskState
{
    /// <summary>Still moving, or not listed yet.</summary>
    Running,

    /// <summary>COMPLETED, FAILED or CANCELLED.</summary>
    Finished,

    /// <summary>Never listed by ListMessageMoveTasks within <see cref="MoveTaskWatch.AppearTimeout"/>.</summary>
    Lost,
}

/// <summary>
/// Follows one message-move task through ListMessageMoveTasks answers. SQS runs one task per queue at a time and a
/// finished task no longer shows its handle, so the task is the one with the handle, else the newest started after
/// <c>newestBefore</c> (the newest start listed before it was started).
/// </summary>
internal sealed class MoveTaskWatch(string handle, long newestBefore)
{
    /// <summary>How long a task may go unlisted before the watch gives up on it (it may still run in SQS).</summary>
    public static readonly TimeSpan AppearTimeout = TimeSpan.FromMinutes(1);

    /// <summary>The task as last listed; null until it is.</summary>
    public ListMessageMoveTasksResultEntry? Entry { get; private set; }

    /// <summary>The newest start among <paramref name="tasks"/> (listed before the task was started), for the constructor.</summary>
    public static long NewestStart(IReadOnlyList<ListMessageMoveTasksResultEntry> tasks) =>
        tasks.Count == 0 ? long.MinValue : tasks.Max(t => t.StartedTimestamp ?? long.MinValue);

    /// <summary>Takes one ListMessageMoveTasks answer, <paramref name="watchedFor"/> after the task was started.</summary>
    public MoveTaskState Observe(IReadOnlyList<ListMessageMoveTasksResultEntry> tasks, TimeSpan watchedFor)
    {
        Entry = tasks.FirstOrDefault(r => r.TaskHandle == handle)
            ?? tasks.Where(r => (r.StartedTimestamp ?? long.MinValue) > newestBefore).OrderByDescending(r => r.StartedTimestamp).FirstOrDefault()
            ?? Entry;
        if (Entry is null)
        {
            return watchedFor > AppearTimeout ? MoveTaskState.Lost : MoveTaskState.Running;
        }

        return Entry.Status is "COMPLETED" or "FAILED" or "CANCELLED" ? MoveTaskState.Finished : MoveTaskState.Running;
    }
}
