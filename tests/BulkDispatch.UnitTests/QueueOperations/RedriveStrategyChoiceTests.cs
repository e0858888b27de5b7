using BulkDispatch.Core.Wire;
using BulkDispatch.QueueOperations.Redrive;

namespace BulkDispatch.UnitTests.QueueOperations;

public sealed class RedriveStrategyChoiceTests
{
    [Fact]
    public void A_dry_run_only_peeks_whatever_it_selects()
    {
        var selection = new RedriveSelection([DeadLetterReason.UnknownVersion], 3);

        Assert.Equal([RedriveStrategyKind.Peek], RedriveStrategyChoice.Order(selection, dryRun: true));
        Assert.Null(RedriveStrategyChoice.FirstNote(selection, dryRun: true));
    }

    [Theory]
    [InlineData(true, null)]
    [InlineData(false, 10L)]
    [InlineData(true, 10L)]
    public void A_filter_or_a_maximum_goes_straight_to_receive_send_delete_and_says_why(bool filtered, long? max)
    {
        var selection = new RedriveSelection(filtered ? [DeadLetterReason.UnknownVersion] : [], max);

        Assert.Equal([RedriveStrategyKind.ReceiveSendDelete], RedriveStrategyChoice.Order(selection, dryRun: false));
        Assert.Equal(RedriveStrategyChoice.SelectionNote, RedriveStrategyChoice.FirstNote(selection, dryRun: false));
    }

    [Fact]
    public void Everything_tries_the_message_move_task_first_and_falls_back_to_receive_send_delete()
    {
        var selection = new RedriveSelection([], null);

        Assert.Equal([RedriveStrategyKind.MessageMoveTask, RedriveStrategyKind.ReceiveSendDelete], RedriveStrategyChoice.Order(selection, dryRun: false));
        Assert.Null(RedriveStrategyChoice.FirstNote(selection, dryRun: false));
    }
}
