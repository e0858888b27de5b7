using Amazon.SQS.Model;
using BulkDispatch.QueueOperations.Redrive;

namespace BulkDispatch.UnitTests.QueueOperations;

public sealed class MoveTaskWatchTests
{
    private static ListMessageMoveTasksResultEntry Task(string? handle, string status, long started, long moved = 0) =>
        new() { TaskHandle = handle, Status = status, StartedTimestamp = started, ApproximateNumberOfMessagesMoved = moved, ApproximateNumberOfMessagesToMove = 100 };

    [Fact]
    public void The_task_is_found_by_its_handle_and_followed_until_it_finishes()
    {
        var watch = new MoveTaskWatch("ours", MoveTaskWatch.NewestStart([Task(null, "COMPLETED", 100)]));

        Assert.Equal(MoveTaskState.Running, watch.Observe([Task(null, "COMPLETED", 100), Task("ours", "RUNNING", 200, moved: 40)], TimeSpan.FromSeconds(2)));
        Assert.Equal(40, watch.Entry?.ApproximateNumberOfMessagesMoved);
        Assert.Equal(MoveTaskState.Finished, watch.Observe([Task("ours", "FAILED", 200, moved: 60)], TimeSpan.FromSeconds(4)));
        Assert.Equal("FAILED", watch.Entry?.Status);
    }

    [Fact]
    public void A_finished_task_without_its_handle_is_the_newest_one_started_after_it_was_and_older_ones_are_ignored()
    {
        var watch = new MoveTaskWatch("ours", newestBefore: 100);

        Assert.Equal(MoveTaskState.Running, watch.Observe([Task(null, "COMPLETED", 100)], TimeSpan.FromSeconds(2))); // someone else's, older
        Assert.Null(watch.Entry);
        Assert.Equal(MoveTaskState.Finished, watch.Observe([Task(null, "COMPLETED", 100), Task(null, "COMPLETED", 150, moved: 7)], TimeSpan.FromSeconds(4)));
        Assert.Equal(7, watch.Entry?.ApproximateNumberOfMessagesMoved);
    }

    [Fact]
    public void A_task_never_listed_is_given_up_after_a_minute_and_one_seen_once_is_not()
    {
        var never = new MoveTaskWatch("ours", long.MinValue);
        Assert.Equal(MoveTaskState.Running, never.Observe([], TimeSpan.FromSeconds(60)));
        Assert.Equal(MoveTaskState.Lost, never.Observe([], TimeSpan.FromSeconds(61)));

        var seen = new MoveTaskWatch("ours", long.MinValue);
        seen.Observe([Task("ours", "RUNNING", 1)], TimeSpan.FromSeconds(2));
        Assert.Equal(MoveTaskState.Running, seen.Observe([], TimeSpan.FromMinutes(5))); // the last listing stands
    }
}
