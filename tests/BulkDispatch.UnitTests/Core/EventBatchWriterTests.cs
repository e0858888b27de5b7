using System.Text.Json;
using BulkDispatch.Core.Events;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Core;

public sealed class EventBatchWriterTests
{
    [Fact]
    public void Write_copies_the_header_and_visitors_of_every_recorded_body()
    {
        foreach (var vector in TestVectors.All)
        {
            var parts = Read(vector.Body);

            byte[] written = EventBatchWriter.Write(parts.HeaderProperties, parts.Visitors);

            string text = BatchJson.Text(written);
            AssertValidJson(text);
            Assert.Equal(TestVectors.VisitorsOf(vector.Body), TestVectors.VisitorsOf(text));
            Assert.Equal(BatchJson.Header(vector.Body), BatchJson.Header(text));
            Assert.Equal(ExpectedLength(parts.HeaderProperties, parts.Visitors), written.Length);

            // The SDK writes compact bodies with visitors last: rewriting one changes no byte.
            if (BatchJson.Properties(vector.Body)[^1].Name == "visitors")
            {
                Assert.Equal(vector.Body, text);
            }
        }
    }

    [Fact]
    public void Write_without_visitors_is_an_empty_body_of_EmptyBodyBytes()
    {
        var parts = Read(TestVectors.All[0].Body);

        byte[] written = EventBatchWriter.Write(parts.HeaderProperties, []);

        string text = BatchJson.Text(written);
        AssertValidJson(text);
        Assert.Empty(TestVectors.VisitorsOf(text));
        Assert.Equal(BatchJson.Header(TestVectors.All[0].Body), BatchJson.Header(text));
        Assert.Equal(EventBatchWriter.EmptyBodyBytes(parts.HeaderBytes, parts.HeaderProperties.Count), written.Length);
    }

    [Fact]
    public void Write_merges_the_visitors_of_all_events_sharing_url_and_header()
    {
        var groups = TestVectors.All
            .Select(v => (Vector: v, Parts: Read(v.Body)))
            .GroupBy(x => (x.Vector.Url, x.Parts.HeaderKey))
            .ToList();

        // The vectors hold bodies with the same header under both endpoints: those stay apart.
        Assert.Contains(groups, g => groups.Any(o => o.Key.HeaderKey == g.Key.HeaderKey && o.Key.Url != g.Key.Url));
        Assert.Contains(groups, g => g.Count() > 1);

        foreach (var group in groups)
        {
            var members = group.ToList();
            var header = members[0].Parts.HeaderProperties;
            var visitors = members.SelectMany(m => m.Parts.Visitors).ToList();

            byte[] merged = EventBatchWriter.Write(header, visitors);

            string text = BatchJson.Text(merged);
            AssertValidJson(text);
            Assert.Equal(members.SelectMany(m => TestVectors.VisitorsOf(m.Vector.Body)), TestVectors.VisitorsOf(text));
            Assert.All(members, m => Assert.Equal(
                BatchJson.Header(m.Vector.Body).Order(),
                BatchJson.Header(text).Order()));
            Assert.Equal(ExpectedLength(header, visitors), merged.Length);
        }
    }

    [Fact]
    public void Write_keeps_fields_it_does_not_know_in_the_header()
    {
        var vector = TestVectors.All[0];
        string body = BatchJson.Body(BatchJson.Properties(vector.Body).Prepend(("x_future", "{\"list\":[1.0,\"zoë\"]}")));
        var parts = Read(body);

        string text = BatchJson.Text(EventBatchWriter.Write(parts.HeaderProperties, parts.Visitors));

        Assert.Equal(BatchJson.Header(body), BatchJson.Header(text));
        Assert.Contains("\"x_future\":{\"list\":[1.0,\"zoë\"]}", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(100, 0, 100)]
    [InlineData(100, 1, 101)]
    [InlineData(100, 9, 101)]
    public void VisitorCost_counts_the_separating_comma_after_the_first_visitor(int visitorBytes, int visitorsSoFar, int expected) =>
        Assert.Equal(expected, EventBatchWriter.VisitorCost(visitorBytes, visitorsSoFar));

    // The sizing arithmetic the packer relies on.
    private static int ExpectedLength(IReadOnlyList<ReadOnlyMemory<byte>> header, IReadOnlyList<ReadOnlyMemory<byte>> visitors) =>
        EventBatchWriter.EmptyBodyBytes(header.Sum(h => h.Length), header.Count)
        + visitors.Select((v, i) => EventBatchWriter.VisitorCost(v.Length, i)).Sum();

    private static void AssertValidJson(string text)
    {
        using var document = JsonDocument.Parse(text);
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
    }

    private static EventBatchParts Read(string body)
    {
        Assert.True(EventBatchParts.TryRead(BatchJson.Utf8(body), out var parts, out string? error), error);
        return parts!;
    }
}
