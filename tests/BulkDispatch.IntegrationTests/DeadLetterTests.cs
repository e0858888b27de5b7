using System.Globalization;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using BulkDispatch.Tests.Shared;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// Permanent failures (a message or an event that can never be delivered) go to the dead-letter queue with
/// their reason, exactly as they came, and never hold back the good events around them.
/// </summary>
public sealed class DeadLetterTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private const string EvilUrl = "https://evil.example/v1/events";
    private const string UsEndpoint = "https://logx.optimizely.com/v1/events";
    private const int MaxRequestBytes = 20_000;

    private static readonly Dictionary<string, string> JsonHeaders = new() { ["Content-Type"] = "application/json" };

    [Fact]
    public async Task Each_permanent_failure_is_dead_lettered_with_its_reason_and_every_good_visitor_is_delivered()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var at = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

        // Good traffic around the bad messages.
        var good = DemoEvents.Generate(300, seed: 11);
        var goodMessages = FlushHarness.Messages(good, perMessage: 3).ToList();

        // Event-level failures ride in messages together with good events that must still go out.
        var vectors = TestVectors.All;
        var withThree = vectors.First(v => TestVectors.VisitorsOf(v.Body).Count() >= 3);
        var neighbour1 = vectors.First(v => v != withThree);
        var neighbour2 = vectors.Last(v => v != withThree && v != neighbour1);
        var evilSource = vectors.First(v => v != withThree && v != neighbour1 && v != neighbour2);

        var evil = new QueuedEvent(EvilUrl, "POST", JsonHeaders, evilSource.Body, at);
        string mixedEvil = WireFormat.Encode([Event(neighbour1, at), evil]);

        var originalVisitors = TestVectors.VisitorsOf(withThree.Body).ToList();
        string bigVisitor = Pad(originalVisitors[1], 30_000);
        string oversizedBody = withThree.Body.Replace(originalVisitors[1], bigVisitor, StringComparison.Ordinal);
        Assert.Contains(bigVisitor, TestVectors.VisitorsOf(oversizedBody));
        var oversized = new QueuedEvent(withThree.Url, "POST", JsonHeaders, oversizedBody, at);
        string mixedOversized = WireFormat.Encode([oversized, Event(neighbour2, at)]);

        const string noVisitorsBody = """{"account_id":"1592310167","project_id":"7720880029","revision":"15","client_name":"csharp-sdk","client_version":"4.4.0"}""";
        var noVisitors = new QueuedEvent(UsEndpoint, "POST", JsonHeaders, noVisitorsBody, at);
        string noVisitorsMessage = WireFormat.Encode([noVisitors]);

        const string undecodable = "this is not JSON {\"visitors\": [";
        const string unknownVersion = """{"format":"bulkdispatch","version":3,"events":[]}""";

        var all = new List<string>(goodMessages);
        all.InsertRange(all.Count / 4, [undecodable, mixedEvil]);
        all.InsertRange(all.Count / 2, [unknownVersion, mixedOversized]);
        all.Add(noVisitorsMessage);
        await h.EnqueueAsync(all);

        var report = await h.FlushAsync(new Dictionary<string, string?> { ["BulkDispatch:Flush:MaxRequestBytes"] = MaxRequestBytes.ToString(CultureInfo.InvariantCulture) });

        // Delivered: every good visitor, the neighbours of the bad events, and the two small visitors of the oversized event.
        var expected = VisitorsOf(good)
            .Concat(TestVectors.VisitorsOf(neighbour1.Body))
            .Concat(TestVectors.VisitorsOf(neighbour2.Body))
            .Concat([originalVisitors[0], .. originalVisitors.Skip(2)]);
        Assert.Equal(Sorted(expected), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.All(h.EventApi.Requests, r => Assert.True(r.Body.Length <= MaxRequestBytes, $"a request of {r.Body.Length} bytes"));

        // Main queue empty; the report counts one of each reason and no transient trouble.
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.True(report.Complete, report.ToText());
        Assert.Equal(all.Count, report.MessagesReceived);
        Assert.Equal(all.Count, report.MessagesDeleted);
        Assert.Equal(
            new SortedDictionary<string, long>(StringComparer.Ordinal)
            {
                [DeadLetterReason.Undecodable] = 1,
                [DeadLetterReason.UnknownVersion] = 1,
                [DeadLetterReason.EndpointNotAllowed] = 1,
                [DeadLetterReason.VisitorTooLarge] = 1,
                [DeadLetterReason.InvalidEvent] = 1,
            },
            new SortedDictionary<string, long>(report.DeadLettered.ToDictionary(), StringComparer.Ordinal));
        Assert.Equal(0, report.TransientFailures);

        // The DLQ holds exactly five messages, one per reason.
        var dlq = await h.ReceiveAllAsync(h.DeadLetterQueueUrl);
        Assert.Equal(
            Sorted([DeadLetterReason.Undecodable, DeadLetterReason.UnknownVersion, DeadLetterReason.EndpointNotAllowed, DeadLetterReason.VisitorTooLarge, DeadLetterReason.InvalidEvent]),
            Sorted(dlq.Select(FlushHarness.Reason)));
        var byReason = dlq.ToDictionary(FlushHarness.Reason);

        // Message-level failures: the message as it came, byte for byte.
        var m = byReason[DeadLetterReason.Undecodable];
        Assert.Equal(undecodable, m.Body);
        Assert.Contains("JSON", FlushHarness.Detail(m), StringComparison.Ordinal);

        m = byReason[DeadLetterReason.UnknownVersion];
        Assert.Equal(unknownVersion, m.Body);
        Assert.Contains("version 3", FlushHarness.Detail(m), StringComparison.Ordinal);

        // Event-level failures: a version-1 message holding that event alone, unchanged.
        m = byReason[DeadLetterReason.EndpointNotAllowed];
        var (url, verb, body) = SingleEvent(m);
        Assert.Equal((EvilUrl, "POST", evilSource.Body), (url, verb, body));
        Assert.Contains(EvilUrl, FlushHarness.Detail(m), StringComparison.Ordinal);
        Assert.Contains("AllowedEndpoints", FlushHarness.Detail(m), StringComparison.Ordinal);

        m = byReason[DeadLetterReason.InvalidEvent];
        Assert.Equal((UsEndpoint, "POST", noVisitorsBody), SingleEvent(m));
        Assert.Contains("visitors", FlushHarness.Detail(m), StringComparison.Ordinal);

        // The oversized visitor alone, under its event's header.
        m = byReason[DeadLetterReason.VisitorTooLarge];
        (url, verb, body) = SingleEvent(m);
        Assert.Equal((withThree.Url, "POST"), (url, verb));
        Assert.Equal([bigVisitor], TestVectors.VisitorsOf(body));
        Assert.Equal(HeaderOf(withThree.Body), HeaderOf(body));
        Assert.Contains("MaxRequestBytes", FlushHarness.Detail(m), StringComparison.Ordinal);
        Assert.Contains(MaxRequestBytes.ToString(CultureInfo.InvariantCulture), FlushHarness.Detail(m), StringComparison.Ordinal);

        Assert.All(dlq, d => Assert.InRange(FlushHarness.Detail(d).Length, 10, 1001));
    }

    private static QueuedEvent Event(RecordedLogEvent v, DateTimeOffset at) => new(v.Url, v.HttpVerb, v.Headers, v.Body, at);

    /// <summary>The visitor with one more attribute whose string value makes it about <paramref name="bytes"/> bytes larger.</summary>
    private static string Pad(string visitor, int bytes)
    {
        const string marker = "\"attributes\":[";
        int at = visitor.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, "visitor has no attributes array");
        string padding = "{\"entity_id\":\"7723280099\",\"key\":\"padding\",\"type\":\"custom\",\"value\":\"" + new string('x', bytes) + "\"},";
        return visitor.Insert(at + marker.Length, padding);
    }
}
