namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>The one rule that deletes: only when every part of a message was accepted or dead-lettered.</summary>
public sealed class InFlightLedgerTests
{
    [Fact]
    public void A_message_goes_to_deletion_only_when_its_last_part_is_resolved()
    {
        var kit = new LedgerKit();
        var message = kit.Admit(StageKit.Message(StageKit.Batch("a")));
        kit.Ledger.Expect(message, 2);

        kit.Ledger.Resolve(message); // the decoding
        kit.Ledger.Resolve(message); // one visitor
        Assert.False(kit.Deletions.Reader.TryPeek(out _));

        kit.Ledger.Resolve(message); // the last one
        Assert.True(kit.Deletions.Reader.TryRead(out var deleted));
        Assert.Same(message, deleted);
        Assert.Empty(kit.Kept.Kept);
    }

    [Fact]
    public void One_abandoned_part_keeps_the_message_and_gives_its_memory_back()
    {
        var kit = new LedgerKit();
        var message = kit.Admit(StageKit.Message(StageKit.Batch("a", "b")));
        Assert.Equal(message.Bytes, kit.Budget.Used);
        kit.Ledger.Expect(message, 2);

        kit.Ledger.Resolve(message);
        kit.Ledger.Abandon(message);
        kit.Ledger.Resolve(message); // accepted after the other part failed: still not deleted

        Assert.False(kit.Deletions.Reader.TryPeek(out _));
        Assert.Same(message, Assert.Single(kit.Kept.Kept));
        Assert.Equal(0, kit.Budget.Used);
        Assert.Equal(0, kit.Ledger.Count);
    }

    [Fact]
    public void A_deleted_message_holds_its_memory_until_it_is_forgotten()
    {
        var kit = new LedgerKit();
        var message = kit.Admit(StageKit.Message(StageKit.Batch("a")));
        kit.Ledger.Resolve(message);
        Assert.True(kit.Deletions.Reader.TryRead(out _));
        Assert.Equal(message.Bytes, kit.Budget.Used);

        kit.Ledger.Forget(message);
        kit.Ledger.Forget(message); // twice is harmless

        Assert.Equal(0, kit.Budget.Used);
        Assert.Equal(0, kit.Ledger.Count);
    }

    [Fact]
    public void A_message_settled_after_deletions_closed_is_kept_not_lost_track_of()
    {
        var kit = new LedgerKit();
        var message = kit.Admit(StageKit.Message(StageKit.Batch("a")));
        kit.Deletions.Writer.Complete();

        kit.Ledger.Resolve(message);

        Assert.Same(message, Assert.Single(kit.Kept.Kept));
        Assert.Equal(0, kit.Budget.Used);
    }
}
