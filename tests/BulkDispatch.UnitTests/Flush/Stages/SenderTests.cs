using System.Threading.Channels;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Packing;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>The sender: a 400 is halved down to the refused visitor, a transient failure stops the run, a dry run sends nothing.</summary>
public sealed class SenderTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly RunCounters _counters = StageKit.Counters();
    private readonly LedgerKit _kit = new();

    [Fact]
    public async Task A_rejected_request_is_halved_until_the_refused_visitor_is_alone_and_only_it_is_dead_lettered()
    {
        using var deadlines = StageKit.Deadlines(_time);
        string[] ids = ["v0", "v1", "v2", "v3", "v4", "bad", "v6", "v7"];
        var (requests, _, messages) = await _kit.PackAsync(_counters, deadlines, _time, 3_000_000, [.. ids.Select(id => StageKit.Message(StageKit.Batch(id)))]);
        Assert.Equal(ids, Assert.Single(requests).Visitors.Select(v => StageKit.VisitorIds(v.Json.Span).Single()));
        var api = new ScriptedEventApi { Refused = { "bad" } };

        var deadLetters = await SendAsync(api, deadlines, requests);

        // 8 → 4 + 4; the refused half → 2 + 2; → 1 + 1: seven requests, each accepted part sent once.
        Assert.Equal(7, api.Requests.Count);
        var dead = Assert.Single(deadLetters);
        Assert.Equal(DeadLetterReason.RejectedByOptimizely, dead.Reason);
        Assert.Same(messages[5], dead.Owner);
        Assert.Equal(["bad"], StageKit.VisitorIds(System.Text.Encoding.UTF8.GetBytes(dead.Body)));
        Assert.Equal(7, _counters.VisitorsDelivered);
        Assert.Equal(7, _counters.EventsDelivered);
        Assert.Equal(0, _counters.TransientFailures);

        // Every other message may be deleted; the refused one waits for its dead letter.
        var deleted = StageKit.Drain(_kit.Deletions.Reader);
        Assert.Equal(messages.Where((_, i) => i != 5), deleted.OrderBy(m => messages.IndexOf(m)));
    }

    [Fact]
    public async Task A_transient_failure_gives_up_the_run_and_no_later_request_is_sent()
    {
        using var deadlines = StageKit.Deadlines(_time);
        int oneVisitorPerRequest = StageKit.Batch("a").Length + 5;
        var (requests, _, messages) = await _kit.PackAsync(_counters, deadlines, _time, oneVisitorPerRequest,
            StageKit.Message(StageKit.Batch("a", "b")), StageKit.Message(StageKit.Batch("c", "d")), StageKit.Message(StageKit.Batch("e", "f")));
        Assert.Equal(6, requests.Count);
        var api = new ScriptedEventApi { Answer = DeliveryStatus.Transient };

        await SendAsync(api, deadlines, requests, concurrency: 1);

        Assert.Single(api.Requests);
        Assert.True(deadlines.GaveUp);
        Assert.True(deadlines.Receiving.IsCancellationRequested);
        Assert.Equal(1, _counters.TransientFailures);
        Assert.Empty(StageKit.Drain(_kit.Deletions.Reader));
        Assert.Equal(messages, _kit.Kept.Kept.OrderBy(m => messages.IndexOf(m)));
        Assert.Equal(0, _kit.Budget.Used);
    }

    [Fact]
    public async Task After_the_send_deadline_requests_are_abandoned_unsent()
    {
        using var deadlines = StageKit.Deadlines(_time, maxDuration: TimeSpan.FromSeconds(60), sendGrace: TimeSpan.FromSeconds(10));
        var (requests, _, messages) = await _kit.PackAsync(_counters, deadlines, _time, 3_000_000, StageKit.Message(StageKit.Batch("a")));
        _time.Advance(TimeSpan.FromSeconds(70));
        var api = new ScriptedEventApi();

        await SendAsync(api, deadlines, requests);

        Assert.Empty(api.Requests);
        Assert.Empty(StageKit.Drain(_kit.Deletions.Reader));
        Assert.Same(messages[0], Assert.Single(_kit.Kept.Kept));
    }

    [Fact]
    public async Task A_dry_run_sink_lists_each_request_and_nothing_is_deleted()
    {
        using var deadlines = StageKit.Deadlines(_time);
        var (requests, _, messages) = await _kit.PackAsync(_counters, deadlines, _time, 3_000_000,
            StageKit.Message(StageKit.Batch("a", "b")), StageKit.Message(StageKit.Batch("c")));
        var dryRun = new DryRunRequestSink();

        await SendAsync(dryRun, deadlines, requests);

        var planned = Assert.Single(dryRun.Planned);
        Assert.Equal(3, planned.Visitors);
        Assert.True(planned.ValidJson);
        Assert.Equal("12345", planned.AccountId);
        Assert.False(deadlines.GaveUp);
        Assert.Equal(0, _counters.RequestsSent);
        Assert.Empty(StageKit.Drain(_kit.Deletions.Reader));
        Assert.Equal(messages, _kit.Kept.Kept.OrderBy(m => messages.IndexOf(m)));
    }

    private async Task<List<DeadLetter>> SendAsync(IRequestSink sink, RunDeadlines deadlines, List<PackedRequest<EventTracker>> requests, int concurrency = 2)
    {
        var input = Channel.CreateUnbounded<PackedRequest<EventTracker>>();
        requests.ForEach(r => input.Writer.TryWrite(r));
        input.Writer.Complete();
        var deadLetters = Channel.CreateUnbounded<DeadLetter>();
        await new Sender(sink, concurrency, _kit.Ledger, deadlines, _counters, StageKit.Log, StageKit.RunId).RunAsync(input.Reader, deadLetters.Writer);
        return StageKit.Drain(deadLetters.Reader);
    }
}
