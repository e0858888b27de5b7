using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>
/// What a message holds of the memory budget (its text, and for version 2 its decompressed payload), and that every
/// pooled buffer goes back exactly once when the message is forgotten: deleted, dead-lettered or abandoned.
/// </summary>
public sealed class MessageBufferTests
{
    private readonly RunCounters _counters = StageKit.Counters();
    private readonly FakeTimeProvider _time = new();
    private readonly LedgerKit _kit = new();

    [Fact]
    public void A_compressed_message_is_charged_its_declared_payload_on_arrival_before_it_is_decompressed()
    {
        string body = StageKit.Compressed(StageKit.Batch("a", "b"), StageKit.Batch("c"));

        var message = _kit.Admit(body);

        Assert.Equal(body.Length + StageKit.DeclaredSize(body), message.Bytes);
        Assert.Equal(message.Bytes, _kit.Budget.Used);
        Assert.Equal(1, _kit.Pool.Outstanding); // only the text so far
    }

    [Fact]
    public async Task Once_decoded_a_compressed_message_holds_only_its_payload_and_gives_every_buffer_back_when_deleted()
    {
        string body = StageKit.Compressed(StageKit.Batch("a", "b"), StageKit.Batch("c"));
        using var deadlines = StageKit.Deadlines(_time);

        var (requests, deadLetters, messages) = await _kit.PackAsync(_counters, deadlines, _time, 3_000_000, body);

        var message = Assert.Single(messages);
        Assert.Empty(deadLetters);
        Assert.Equal(["a", "b", "c"], StageKit.VisitorIds(Assert.Single(requests).BuildBody()));
        Assert.Equal(StageKit.DeclaredSize(body), message.Bytes); // the text went back: the events are slices of the payload
        Assert.Equal(message.Bytes, _kit.Budget.Used);
        Assert.Equal(1, _kit.Pool.Outstanding);

        foreach (var visitor in requests[0].Visitors)
        {
            _kit.Ledger.Resolve(visitor.Tag.Message); // accepted
        }

        Assert.True(_kit.Deletions.Reader.TryRead(out var deleted));
        _kit.Ledger.Forget(deleted);
        Assert.Equal(0, _kit.Budget.Used);
        Assert.Equal(0, _kit.Pool.Outstanding);
        Assert.Equal(2, _kit.Pool.Rented);
    }

    [Fact]
    public async Task Buffers_go_back_for_dead_lettered_and_abandoned_messages_of_both_versions()
    {
        string corrupt = StageKit.Compressed(StageKit.Batch("x")).Replace("\"count\":1", "\"count\":2", StringComparison.Ordinal);
        using var deadlines = StageKit.Deadlines(_time);

        var (requests, deadLetters, messages) = await _kit.PackAsync(
            _counters, deadlines, _time, 3_000_000, corrupt, StageKit.Compressed(StageKit.Batch("a")), StageKit.Message(StageKit.Batch("b")));

        var dead = Assert.Single(deadLetters);
        Assert.Equal(DeadLetterReason.Undecodable, dead.Reason);
        Assert.Equal(corrupt, dead.Body);
        _kit.Ledger.Resolve(dead.Owner); // placed on the dead-letter queue
        Assert.True(_kit.Deletions.Reader.TryRead(out var deleted));
        _kit.Ledger.Forget(deleted);

        foreach (var visitor in Assert.Single(requests).Visitors)
        {
            _kit.Ledger.Abandon(visitor.Tag.Message); // Optimizely unavailable: both stay in the queue
        }

        Assert.Equal(2, _kit.Kept.Kept.Count);
        Assert.Equal(0, _kit.Ledger.Count);
        Assert.Equal(0, _kit.Budget.Used);
        Assert.Equal(0, _kit.Pool.Outstanding);
        Assert.Equal(5, _kit.Pool.Rented); // three texts and two payloads (the corrupt one's went back as it failed)
        Assert.All(messages, m => Assert.Equal(0, m.Bytes));
    }

    [Fact]
    public async Task A_compressed_message_declaring_more_than_the_budget_is_dead_lettered_undecodable_without_waiting_or_renting()
    {
        var kit = new LedgerKit(budgetBytes: 10_000);
        string body = StageKit.Compressed([.. Enumerable.Range(0, 60).Select(i => StageKit.Batch($"v{i}"))]);
        Assert.True(StageKit.DeclaredSize(body) > 10_000 && body.Length < 10_000, "a payload over the budget in a message under it");
        using var deadlines = StageKit.Deadlines(_time);

        var (requests, deadLetters, messages) = await kit.PackAsync(_counters, deadlines, _time, 3_000_000, body);

        Assert.Empty(requests);
        var dead = Assert.Single(deadLetters);
        Assert.Equal(DeadLetterReason.Undecodable, dead.Reason);
        Assert.Contains("over this reader's limit of 10000 bytes", dead.Detail, StringComparison.Ordinal);
        Assert.Equal(body.Length, Assert.Single(messages).Bytes); // charged its text only: no room is waited for
        Assert.Equal(1, kit.Pool.Rented);
    }
}
