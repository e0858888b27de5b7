using System.Text;
using System.Text.Json;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>Small readers for what tests find on the queues and at the Event API.</summary>
internal static class WireInspection
{
    /// <summary>An ordinal-sorted copy, for comparing multisets of raw JSON text.</summary>
    public static List<string> Sorted(IEnumerable<string> items) => items.OrderBy(x => x, StringComparer.Ordinal).ToList();

    /// <summary>Every visitor of <paramref name="events"/>, raw, in order.</summary>
    public static List<string> VisitorsOf(IEnumerable<QueuedEvent> events) =>
        events.SelectMany(e => Tests.Shared.TestVectors.VisitorsOf(e.Body)).ToList();

    /// <summary>Every visitor of a version-1 message, raw, in order.</summary>
    public static List<string> VisitorsOfMessage(string message)
    {
        var decoded = MessageDecoder.Decode(message, legacy: null);
        Assert.True(decoded.Succeeded, $"message does not decode ({decoded.FailureReason}: {decoded.FailureDetail})");
        return decoded.Events.SelectMany(e => Tests.Shared.TestVectors.VisitorsOf(Encoding.UTF8.GetString(e.Body.Span))).ToList();
    }

    /// <summary>A dead-lettered version-1 message that must hold exactly one event: that event, with its body as text.</summary>
    public static (string Url, string Verb, string Body) SingleEvent(Message m)
    {
        var decoded = MessageDecoder.Decode(m.Body, legacy: null);
        Assert.True(decoded.Succeeded, $"dead-lettered message does not decode ({decoded.FailureReason}: {decoded.FailureDetail}): {m.Body}");
        var e = Assert.Single(decoded.Events);
        return (e.Url, e.HttpVerb, Encoding.UTF8.GetString(e.Body.Span));
    }

    /// <summary>
    /// Asserts that every visitor the Event API accepted, unchanged, went out under the header fields (every top-level
    /// property but visitors) of a body it was published in: the flush merged visitors only where their headers agree.
    /// </summary>
    public static void AssertVisitorsKeptTheirHeaders(IEnumerable<string> publishedBodies, IEnumerable<Sandbox.EventApiRequest> acceptedRequests)
    {
        var sources = publishedBodies
            .SelectMany(body => Tests.Shared.TestVectors.VisitorsOf(body).Select(visitor => (visitor, header: HeaderOf(body))))
            .ToLookup(p => p.visitor, p => p.header);
        foreach (var request in acceptedRequests)
        {
            string header = HeaderOf(Encoding.UTF8.GetString(request.Body));
            Assert.All(request.VisitorJson, visitor => Assert.Contains(header, sources[visitor]));
        }
    }

    /// <summary>The top-level properties but visitors, raw, sorted: equal exactly when two bodies may share a request.</summary>
    public static string HeaderOf(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return string.Join(",", doc.RootElement.EnumerateObject().Where(p => p.Name != "visitors").Select(p => p.Name + "=" + p.Value.GetRawText()).Order(StringComparer.Ordinal));
    }
}
