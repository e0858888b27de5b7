using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Producer;
using BulkDispatch.Tests.Shared;
using Xunit.Abstractions;

using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;
using static BulkDispatch.IntegrationTests.Producer.ProducerTestSupport;

namespace BulkDispatch.IntegrationTests.Producer;

/// <summary>
/// The real producer's wire formats through the emulator and a real flush into the local Event API: version 2 (the
/// default) and version 1 (the rollout setting) both deliver every recorded SDK event's visitors as the SDK wrote them.
/// </summary>
public sealed class ProducerWireFormatTests(SqsEmulatorFixture fixture, ITestOutputHelper output) : IClassFixture<SqsEmulatorFixture>
{
    [Theory]
    [InlineData(null, "{\"format\":\"bulkdispatch\",\"version\":2,\"codec\":\"zstd\",")] // the default
    [InlineData(1, "{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[")]
    public async Task Recorded_sdk_events_from_the_producer_reach_the_event_api_byte_for_byte_through_a_flush(int? wireFormatVersion, string messageStart)
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = RecordedEvents();
        using var sqs = CreateRecordingClient(fixture.Emulator);
        var options = FastOptions(h.QueueUrl);
        if (wireFormatVersion is { } version)
        {
            options.WireFormatVersion = version;
        }

        await using (var publisher = new SqsEventPublisher(options, sqs, new CapturingLoggerFactory()))
        {
            Assert.All(events, e => Assert.True(e.Publish(publisher)));
            await FlushOrFailAsync(publisher);
            Assert.Equal(new ProducerStatistics(events.Count, events.Count, 0, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        }

        // On the queue: messages in the version asked for, holding every event exactly as published.
        var bodies = sqs.SentBodies.ToList();
        output.WriteLine($"version {wireFormatVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}: {events.Count} events in {bodies.Count} messages, {bodies.Sum(b => (long)b.Length)} bytes, {sqs.Calls} SendMessageBatch requests");
        Assert.All(bodies, b => Assert.StartsWith(messageStart, b, StringComparison.Ordinal));
        AssertSameMultiset(events.Select(e => e.Key), bodies.SelectMany(Decode).Select(e => Key(e.Url, e.HttpVerb, e.Headers, e.Body.ToArray())), "events in the messages the producer sent");

        var report = await h.FlushAsync();

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(events.Count, report.EventsDelivered);
        Assert.Equal(bodies.Count, report.MessagesDeleted);
        Assert.Empty(report.DeadLettered);
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(Sorted(events.SelectMany(e => TestVectors.VisitorsOf(e.Body))), Sorted(h.AcceptedVisitors()));

        AssertVisitorsKeptTheirHeaders(events.Select(e => e.Body), h.EventApi.AcceptedRequests);

        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }
}
