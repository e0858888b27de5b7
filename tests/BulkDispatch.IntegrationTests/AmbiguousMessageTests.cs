using System.Text.Json;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using BulkDispatch.Tests.Shared;
using static BulkDispatch.IntegrationTests.Infrastructure.QueueCommandSupport;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// Crafted messages of issue 14 through the emulator and a real flush: a message or event whose fields could be
/// read two ways is dead-lettered as it came, never delivered as one reader's guess and never deleted unseen;
/// a body that is not an EventBatch is one per-event fault whatever form it travels in.
/// </summary>
public sealed class AmbiguousMessageTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private const string EvilUrl = "https://evil.example/v1/events";

    [Fact]
    public async Task Ambiguous_messages_and_events_are_dead_lettered_and_every_unambiguous_visitor_is_delivered()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var v = Vectors();
        var good = DemoEvents.Generate(60, seed: 14);
        var goodMessages = FlushHarness.Messages(good, perMessage: 3).ToList();

        // Issue 14, defect 5: the last 'events' wins in System.Text.Json's reading, so v[0] was deleted undelivered.
        string duplicateEvents = Envelope(Event(v[0]) + "],\"events\":[");
        // A first-wins reader sends this event to evil.example; the old last-wins reader delivered it to logx.
        string duplicateUrl = Envelope("{\"url\":\"" + EvilUrl + "\",\"url\":\"" + v[1].Url + "\",\"body\":" + v[1].Body + "}," + Event(v[2]));
        // Not an EventBatch, once as body and once as bodyText: the same fault, so the same reason, and the neighbour goes out.
        string arrayBody = "[" + v[4].Body + "]";
        string arrayAsBody = Envelope(Event(v[3]) + ",{\"url\":\"" + v[4].Url + "\",\"body\":" + arrayBody + "}");
        string arrayAsBodyText = Envelope(Event(v[5]) + ",{\"url\":\"" + v[4].Url + "\",\"bodyText\":" + JsonSerializer.Serialize(arrayBody) + "}");
        // Two bodies that repeat account_id in opposite orders: grouped by header set, one would go out under the other's account.
        var (first, second) = SameHeaderPair();
        const string account = "\"account_id\":\"1592310167\"";
        string firstAmbiguous = first.Body.Replace(account, account + ",\"account_id\":\"999\"", StringComparison.Ordinal);
        string secondAmbiguous = second.Body.Replace(account, "\"account_id\":\"999\"," + account, StringComparison.Ordinal);
        string ambiguousHeaders1 = Envelope(Event(first.Url, firstAmbiguous));
        string ambiguousHeaders2 = Envelope(Event(second.Url, secondAmbiguous));

        var all = new List<string>(goodMessages);
        all.InsertRange(all.Count / 3, [duplicateEvents, duplicateUrl, arrayAsBody]);
        all.InsertRange(all.Count * 2 / 3, [arrayAsBodyText, ambiguousHeaders1, ambiguousHeaders2]);
        await h.EnqueueAsync(all);

        var report = await h.FlushAsync();

        var expected = VisitorsOf(good).Concat(TestVectors.VisitorsOf(v[3].Body)).Concat(TestVectors.VisitorsOf(v[5].Body));
        Assert.Equal(Sorted(expected), Sorted(h.AcceptedVisitors()));
        Assert.True(report.Complete, report.ToText());
        Assert.Equal(all.Count, report.MessagesDeleted);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(
            Counts((DeadLetterReason.Undecodable, 2), (DeadLetterReason.InvalidEvent, 4)),
            new SortedDictionary<string, long>(report.DeadLettered.ToDictionary(), StringComparer.Ordinal));

        var dlq = await h.ReceiveAllAsync(h.DeadLetterQueueUrl);
        Assert.Equal(6, dlq.Count);

        // Undecodable: the message as it came, so nothing in it is lost and an operator sees what was sent.
        var undecodable = dlq.Where(m => FlushHarness.Reason(m) == DeadLetterReason.Undecodable).ToDictionary(m => m.Body);
        Assert.Equal(Sorted([duplicateEvents, duplicateUrl]), Sorted(undecodable.Keys));
        Assert.Contains("2 'events' fields", FlushHarness.Detail(undecodable[duplicateEvents]), StringComparison.Ordinal);
        Assert.Equal("Event 0 has two 'url' fields.", FlushHarness.Detail(undecodable[duplicateUrl]));

        // Invalid events: each alone, its body unchanged.
        var invalid = dlq.Where(m => FlushHarness.Reason(m) == DeadLetterReason.InvalidEvent).Select(m => (Event: SingleEvent(m), Detail: FlushHarness.Detail(m))).ToList();
        Assert.Equal(
            Sorted([arrayBody, arrayBody, firstAmbiguous, secondAmbiguous]),
            Sorted(invalid.Select(i => i.Event.Body)));
        Assert.All(invalid.Where(i => i.Event.Body == arrayBody), i => Assert.Contains("not a JSON object", i.Detail, StringComparison.Ordinal));
        Assert.All(invalid.Where(i => i.Event.Body != arrayBody), i => Assert.Equal("Event body has two 'account_id' properties.", i.Detail));
    }

    [Fact]
    public async Task The_flush_command_dead_letters_a_message_with_two_events_arrays_as_it_came_and_prints_startedAt_readably()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var v = Vectors();
        string duplicateEvents = Envelope(Event(v[0]) + "],\"events\":[");
        string good = Envelope(Event(v[1]));
        await h.EnqueueAsync([duplicateEvents, good]);
        using var dir = new TempDirectory();

        var result = await RunAsync(
            h,
            dir.Path,
            "flush",
            "--json",
            "--set", $"BulkDispatch__Optimizely__EndpointOverride={h.EventApi.EventsUrl}",
            "--set", "BulkDispatch__Flush__ReceiveWaitTime=00:00:01");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(result.Stdout);
        var r = report.RootElement;
        Assert.Equal(2, r.GetProperty("messagesDeleted").GetInt64());
        Assert.Equal(Counts((DeadLetterReason.Undecodable, 1)), Counts(r.GetProperty("deadLettered")));
        Assert.Equal(Sorted(TestVectors.VisitorsOf(v[1].Body)), Sorted(h.AcceptedVisitors()));
        var dead = Assert.Single(await h.ReceiveAllAsync(h.DeadLetterQueueUrl));
        Assert.Equal(duplicateEvents, dead.Body);
        Assert.Equal(DeadLetterReason.Undecodable, FlushHarness.Reason(dead));
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));

        // The report's time is in UTC and its '+' is written as it is, not as \u002B.
        Assert.Matches("\"startedAt\": \"[0-9T:.-]+\\+00:00\"", result.Stdout);
    }

    /// <summary>Recorded SDK events whose bodies every SQS implementation accepts raw (no emoji).</summary>
    private static List<RecordedLogEvent> Vectors() => TestVectors.All.Where(x => !x.Body.Any(char.IsSurrogate)).Take(6).ToList();

    /// <summary>Two recorded events with the same URL and header, holding the account id the test repeats.</summary>
    private static (RecordedLogEvent First, RecordedLogEvent Second) SameHeaderPair()
    {
        var pair = TestVectors.All
            .Where(x => !x.Body.Any(char.IsSurrogate) && x.Body.Contains("\"account_id\":\"1592310167\"", StringComparison.Ordinal))
            .GroupBy(x => x.Url + " " + HeaderOf(x.Body))
            .First(g => g.Count() >= 2)
            .Take(2)
            .ToList();
        return (pair[0], pair[1]);
    }

    private static string Envelope(string events) => "{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[" + events + "]}";

    private static string Event(RecordedLogEvent e) => Event(e.Url, e.Body);

    private static string Event(string url, string body) => "{\"url\":\"" + url + "\",\"verb\":\"POST\",\"body\":" + body + "}";
}
