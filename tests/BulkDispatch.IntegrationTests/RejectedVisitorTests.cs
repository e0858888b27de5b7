using System.Text;
using System.Text.Json;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using Xunit.Abstractions;
using BulkDispatch.Tests.Shared;
using static BulkDispatch.IntegrationTests.Infrastructure.FaultTestHelpers;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// A 400 is permanent: the flush splits the rejected request in halves until it has the one visitor
/// Optimizely refuses, delivers everyone else, and dead-letters exactly that visitor with the reason.
/// </summary>
public sealed class RejectedVisitorTests(SqsEmulatorFixture fixture, ITestOutputHelper output) : IClassFixture<SqsEmulatorFixture>
{
    private const string RejectionText = "Invalid event: snapshot for this visitor is rejected (test marker 7f3a)";

    [Fact]
    public async Task Flush_dead_letters_only_the_visitor_Optimizely_rejects_and_delivers_the_rest()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var vectors = TestVectors.All;
        var events = vectors.Select(v => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, DateTimeOffset.UtcNow)).ToList();

        // A visitor in the middle of the largest group (US endpoint, account 1592310167), in an event with
        // other visitors, so the event is partly delivered and partly dead-lettered. Visitor ids repeat
        // across the vectors, so the poison is the visitor's exact JSON text.
        var candidates = Enumerable.Range(0, events.Count)
            .Where(i => events[i].Url == "https://logx.optimizely.com/v1/events"
                && events[i].Body.Contains("\"account_id\":\"1592310167\"", StringComparison.Ordinal)
                && TestVectors.VisitorsOf(events[i].Body).Count() >= 3)
            .ToList();
        Assert.NotEmpty(candidates);
        int poisonedEventIndex = candidates[candidates.Count / 2];
        var poisonedEvent = events[poisonedEventIndex];
        string poison = TestVectors.VisitorsOf(poisonedEvent.Body).ElementAt(1);
        Assert.Single(Sorted(VisitorsOf(events)), v => v == poison);
        h.Faults.Policy = r => r.VisitorJson.Contains(poison) ? EventApiFault.BadRequest(RejectionText) : null;

        var messages = FlushHarness.Messages(events, perMessage: 3).ToList();
        await h.EnqueueAsync(messages);
        var report = await h.FlushAsync();
        output.WriteLine(report.ToText());
        output.WriteLine(string.Join(Environment.NewLine, h.EventApi.Requests));

        // Every other visitor delivered exactly once, raw JSON unchanged.
        var all = Sorted(VisitorsOf(events));
        var expected = all.Where(v => v != poison).ToList();
        Assert.Equal(expected, Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);

        // The report.
        Assert.True(report.Complete, report.ToText());
        Assert.Equal(messages.Count, report.MessagesReceived);
        Assert.Equal(messages.Count, report.MessagesDeleted);
        Assert.Equal(events.Count - 1, report.EventsDelivered);
        Assert.Equal(all.Count - 1, report.VisitorsDelivered);
        Assert.Equal(0, report.TransientFailures);
        var counted = Assert.Single(report.DeadLettered);
        Assert.Equal(DeadLetterReason.RejectedByOptimizely, counted.Key);
        Assert.Equal(1, counted.Value);

        // Splitting is logarithmic: the rejected requests form one chain of halvings down to the visitor.
        var requests = h.EventApi.Requests;
        var rejected = requests.Where(r => r.Status == 400).OrderBy(r => r.Sequence).ToList();
        Assert.All(rejected, r => Assert.Contains(poison, r.VisitorJson));
        Assert.Equal([poison], rejected[^1].VisitorJson);
        int first = rejected[0].VisitorJson.Count;
        Assert.True(first >= 100, $"the poisoned visitor was in a request of only {first} visitors; the test wants a large one");
        int depth = (int)Math.Ceiling(Math.Log2(first));
        Assert.InRange(rejected.Count, 2, depth + 1);
        Assert.True(requests.Count <= 2 * depth + 20, $"{requests.Count} requests for {all.Count} visitors ({first} in the rejected request)");
        Assert.True(requests.Count < all.Count / 20, $"{requests.Count} requests for {all.Count} visitors");
        Assert.Equal(report.RequestsSent, requests.Count);

        // Main queue empty; the DLQ holds exactly one message: the poisoned visitor under its event's header.
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        var dead = Assert.Single(await h.ReceiveAllAsync(h.DeadLetterQueueUrl));
        Assert.Equal(DeadLetterReason.RejectedByOptimizely, FlushHarness.Reason(dead));
        string detail = FlushHarness.Detail(dead);
        Assert.Contains("400", detail, StringComparison.Ordinal);
        Assert.Contains(RejectionText, detail, StringComparison.Ordinal);

        var decoded = MessageDecoder.Decode(dead.Body, null);
        Assert.True(decoded.Succeeded, decoded.FailureDetail);
        var e = Assert.Single(decoded.Events);
        Assert.Equal(poisonedEvent.Url, e.Url);
        Assert.Equal(poisonedEvent.HttpVerb, e.HttpVerb);
        Assert.Equal(poisonedEvent.Headers.OrderBy(p => p.Key, StringComparer.Ordinal), e.Headers.OrderBy(p => p.Key, StringComparer.Ordinal));
        string body = Encoding.UTF8.GetString(e.Body.Span);
        Assert.Equal([poison], TestVectors.VisitorsOf(body));
        Assert.Equal(HeaderFields(poisonedEvent.Body), HeaderFields(body));
        using (var doc = JsonDocument.Parse(body))
        {
            Assert.Equal(JsonValueKind.Array, doc.RootElement.GetProperty("visitors").ValueKind);
        }
    }
}
