using BulkDispatch.Core.Wire;
using BulkDispatch.QueueOperations;
using BulkDispatch.QueueOperations.Redrive;
using static BulkDispatch.UnitTests.QueueOperations.DeadLetterMessages;

namespace BulkDispatch.UnitTests.QueueOperations;

public sealed class RedriveSelectionTests
{
    [Fact]
    public void Without_reasons_every_message_matches_and_with_reasons_only_those_named()
    {
        var all = new RedriveSelection([], max: null);
        var some = new RedriveSelection([DeadLetterReason.UnknownVersion, " " + DeadLetterReasons.NoReason + " "], max: null);

        Assert.True(all.Matches(DeadLetterReason.InvalidEvent));
        Assert.False(all.SelectsSome);
        Assert.True(some.Matches(DeadLetterReason.UnknownVersion));
        Assert.True(some.Matches(DeadLetterReasons.NoReason)); // trimmed
        Assert.False(some.Matches(DeadLetterReason.InvalidEvent));
        Assert.False(some.Matches("Unknown-Version")); // codes are exact
        Assert.True(some.SelectsSome);
        Assert.Equal([DeadLetterReasons.NoReason, DeadLetterReason.UnknownVersion], some.Reasons);
    }

    [Fact]
    public void A_message_without_a_reason_attribute_has_the_reason_none()
    {
        Assert.Equal(DeadLetterReasons.NoReason, DeadLetterReasons.Of(Dead("a", null)));
        Assert.Equal(DeadLetterReasons.NoReason, DeadLetterReasons.Of(Dead("b", "")));
        Assert.Equal(DeadLetterReason.VisitorTooLarge, DeadLetterReasons.Of(Dead("c", DeadLetterReason.VisitorTooLarge)));
    }

    [Fact]
    public void A_maximum_alone_selects_some_and_counts_down_to_zero()
    {
        var selection = new RedriveSelection([], max: 5);

        Assert.True(selection.SelectsSome);
        Assert.Equal(5, selection.Remaining(0));
        Assert.Equal(1, selection.Remaining(4));
        Assert.Equal(0, selection.Remaining(7));
        Assert.Equal(long.MaxValue, new RedriveSelection([], null).Remaining(1_000));
    }

    [Fact]
    public void Triage_moves_matching_new_messages_up_to_the_remaining_count_and_releases_the_rest()
    {
        var selection = new RedriveSelection([DeadLetterReason.UnknownVersion], max: null);
        var handled = new HashSet<string>(StringComparer.Ordinal) { "seen" };
        var batch = new[]
        {
            Dead("m1", DeadLetterReason.UnknownVersion), Dead("s1", DeadLetterReason.InvalidEvent), Dead("seen", DeadLetterReason.UnknownVersion),
            Dead("m2", DeadLetterReason.UnknownVersion), Dead("m3", DeadLetterReason.UnknownVersion), Dead("s2", null),
        };

        var triage = selection.Triage(batch, handled, remaining: 2);

        Assert.True(triage.AnyNew);
        Assert.Equal(["m1", "m2"], triage.ToMove.Select(m => m.MessageId));
        Assert.Equal(["s1", "seen", "m3", "s2"], triage.Release.Select(m => m.MessageId)); // skipped, handled before, over the count
        Assert.Equal([DeadLetterReason.InvalidEvent, DeadLetterReasons.NoReason], triage.Skipped);
        Assert.Contains("s1", handled);
        Assert.DoesNotContain("m3", handled); // over the count: it may move in a later batch
    }

    [Fact]
    public void A_skipped_message_that_comes_back_is_released_and_not_counted_again()
    {
        var selection = new RedriveSelection([DeadLetterReason.UnknownVersion], max: null);
        var handled = new HashSet<string>(StringComparer.Ordinal);
        var batch = new[] { Dead("s1", DeadLetterReason.InvalidEvent) };

        var first = selection.Triage(batch, handled, long.MaxValue);
        var again = selection.Triage(batch, handled, long.MaxValue);

        Assert.Single(first.Skipped);
        Assert.True(first.AnyNew);
        Assert.Empty(again.Skipped);
        Assert.False(again.AnyNew);
        Assert.Single(again.Release);
    }

    [Fact]
    public void A_dry_run_plan_takes_at_most_the_maximum_across_matching_reasons_in_code_order()
    {
        var selection = new RedriveSelection([DeadLetterReason.UnknownVersion, DeadLetterReason.EndpointNotAllowed], max: 7);
        var counts = new Dictionary<string, long>
        {
            [DeadLetterReason.UnknownVersion] = 6,
            [DeadLetterReason.EndpointNotAllowed] = 4,
            [DeadLetterReason.InvalidEvent] = 2,
        };

        var plan = selection.Plan(counts);

        Assert.Equal(7, plan.WouldMove);
        Assert.Equal(new Dictionary<string, long> { [DeadLetterReason.EndpointNotAllowed] = 4, [DeadLetterReason.UnknownVersion] = 3 }, plan.MoveByReason);
        Assert.Equal(2, plan.Skipped);
        Assert.Equal(new Dictionary<string, long> { [DeadLetterReason.InvalidEvent] = 2 }, plan.SkipByReason);
    }

    [Fact]
    public void Empty_reasons_and_a_maximum_below_one_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new RedriveSelection(["  "], null));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RedriveSelection([], 0));
    }
}
