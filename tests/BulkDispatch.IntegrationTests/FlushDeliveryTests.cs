using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.IntegrationTests;

/// <summary>The happy path against the real emulator and a real HTTP Event API.</summary>
public sealed class FlushDeliveryTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Flush_delivers_every_recorded_sdk_event_once_grouped_by_url_and_header()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var vectors = TestVectors.All;
        var events = vectors.Select(v => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, DateTimeOffset.UtcNow)).ToList();
        await h.EnqueueAsync(FlushHarness.Messages(events, perMessage: 3));

        var report = await h.FlushAsync(new Dictionary<string, string?> { ["BulkDispatch:Flush:MaxRequestBytes"] = "200000" });

        var expected = vectors.SelectMany(v => TestVectors.VisitorsOf(v.Body)).OrderBy(x => x, StringComparer.Ordinal).ToList();
        var received = h.AcceptedVisitors().OrderBy(x => x, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, received);
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.All(h.EventApi.Requests, r => Assert.True(r.Body.Length <= 200_000, $"request of {r.Body.Length} bytes is over the cap"));
        Assert.True(report.Complete, report.ToText());
        Assert.Equal(events.Count, report.EventsDelivered);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
        Assert.Empty(h.Logs.Warnings); // a clean run warns about nothing (an empty DeleteMessageBatch once did)
        // Far fewer requests than events, but never two requests' visitors mixed across URLs or headers.
        Assert.True(report.RequestsSent < events.Count / 5, $"{report.RequestsSent} requests for {events.Count} events");
        var headersByVisitor = vectors
            .SelectMany(v => TestVectors.VisitorsOf(v.Body).Select(visitor => (visitor, key: v.Url + "|" + HeaderOf(v.Body))))
            .GroupBy(p => p.visitor).ToDictionary(g => g.Key, g => g.Select(p => p.key).ToHashSet());
        foreach (var request in h.EventApi.AcceptedRequests)
        {
            var keys = request.VisitorJson.Select(v => headersByVisitor[v]).Aggregate((a, b) => [.. a.Intersect(b)]);
            Assert.NotEmpty(keys);
            Assert.Equal(keys.Single().Split('|', 2)[1], HeaderOf(FlushHarness.Utf8(request.Body)));
        }
    }

    /// <summary>The top-level properties but visitors, raw, sorted: equal exactly when two bodies may share a request.</summary>
    private static string HeaderOf(string body)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(body);
        return string.Join(",", doc.RootElement.EnumerateObject().Where(p => p.Name != "visitors").Select(p => p.Name + "=" + p.Value.GetRawText()).Order(StringComparer.Ordinal));
    }
}
