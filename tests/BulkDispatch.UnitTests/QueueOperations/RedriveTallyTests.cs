using BulkDispatch.QueueOperations.Redrive;

namespace BulkDispatch.UnitTests.QueueOperations;

public sealed class RedriveTallyTests
{
    [Fact]
    public void Moves_and_failures_count_against_the_maximum_and_skips_do_not()
    {
        var tally = new RedriveTally();
        tally.Move("a");
        tally.Move("b");
        tally.Move("a");
        tally.Skip("c");
        tally.NotSent("m4", "a", "refused");
        tally.NotDeleted("m5", "b", "delete failed");

        Assert.Equal(5, tally.Attempted);
        Assert.Equal(new Dictionary<string, long> { ["a"] = 2, ["b"] = 1 }, tally.MovedByReason);
        Assert.Equal(new Dictionary<string, long> { ["c"] = 1 }, tally.SkippedByReason);
        Assert.Equal([new RedriveFailure("m4", "a", "refused"), new RedriveFailure("m5", "b", "delete failed")], tally.Failures);
    }

    [Fact]
    public void Progress_shows_messages_sent_but_not_deleted_as_failed()
    {
        var tally = new RedriveTally();
        tally.Move("a");
        tally.Skip("b");
        tally.NotSent("m2", "a", "refused");
        tally.NotDeleted("m3", "a", "delete failed");

        var progress = tally.Progress(RedriveMethod.ReceiveSendDelete);

        Assert.Equal(new RedriveProgress(RedriveMethod.ReceiveSendDelete, 1, 1, 2, null), progress);
        Assert.Equal("redrive (receive-send-delete): 1 moved, 1 skipped, 2 failed", progress.ToString());
        Assert.Equal("redrive (message-move-task): about 40 of 100 moved", new RedriveProgress(RedriveMethod.MessageMoveTask, 40, 0, 0, 100).ToString());
    }

    [Fact]
    public void Every_failure_is_counted_and_the_first_hundred_are_listed()
    {
        var tally = new RedriveTally();
        for (int i = 0; i < 250; i++)
        {
            tally.NotSent("m" + i, "a", "refused");
        }

        Assert.Equal(250, tally.Failed);
        Assert.Equal(RedriveTally.MaxFailuresListed, tally.Failures.Count);
        Assert.Equal("m0", tally.Failures[0].MessageId);
    }
}
