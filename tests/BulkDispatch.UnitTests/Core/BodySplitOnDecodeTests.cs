using System.Text;
using BulkDispatch.Core.Events;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Core;

/// <summary>
/// The decoder splits each inline body into its EventBatch parts as it reads the message, once. What it finds must be
/// what a reader of the body alone finds, and a body that is not an EventBatch must leave the message's reader where
/// the next event starts.
/// </summary>
public sealed class BodySplitOnDecodeTests
{
    private static RecordedLogEvent Vector => TestVectors.All[0];

    private static string Event(string body) =>
        "{\"url\":\"" + Vector.Url + "\",\"verb\":\"POST\",\"headers\":{\"Content-Type\":\"application/json\"},\"body\":" + body + ",\"enqueuedAt\":\"2026-11-28T12:00:00+00:00\"}";

    private static string Message(params string[] bodies) =>
        "{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[" + string.Join(",", bodies.Select(Event)) + "]}";

    public static TheoryData<string> Bodies => new()
    {
        Vector.Body,
        "[]",
        "[{\"visitors\":[]}]",
        "17",
        "\"text\"",
        "null",
        "{}",
        "{\"account_id\":\"1\"}",
        "{\"visitors\":{}}",
        "{\"visitors\":[{}, 3, {}]}",
        "{\"visitors\":[{\"a\":[1,{\"b\":2}]}, [1, [2, {\"c\":3}]], {}]}",
        "{\"account_id\":\"1\",\"account_id\":\"2\",\"visitors\":[{}],\"x\":{\"y\":[1]}}",
        "{\"visitors\":[{}],\"visitors\":[{\"z\":1}],\"after\":{\"deep\":[[[{}]]]}}",
        "{\"\\ud800\":{\"nested\":[1]},\"visitors\":[{}]}",
        "{\"a\":1,\"\\ud800x\":2,\"visitors\":[{}]}",
        "{\"visitors\":[{}],\"account_id\":\"1\",\"project_id\":{\"n\":[{}]}}",
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void An_event_split_while_decoding_matches_its_body_split_alone_and_the_next_event_still_decodes(string body)
    {
        var result = MessageDecoder.Decode(Encoding.UTF8.GetBytes(Message(Vector.Body, body, Vector.Body)), legacy: null);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Equal(3, result.Events.Count);
        var middle = result.Events[1];
        Assert.Equal(body, Encoding.UTF8.GetString(middle.Body.Span));
        Assert.NotNull(middle.Parts ?? (object?)middle.BodyProblem);

        bool alone = EventBatchParts.TryRead(Encoding.UTF8.GetBytes(body), out var expected, out string? expectedError);
        bool split = middle.TryGetParts(out var parts, out string? error);
        Assert.Equal(alone, split);
        Assert.Equal(expectedError, error);
        if (alone)
        {
            Assert.Equal(expected!.HeaderProperties.Select(BatchJson.Text), parts!.HeaderProperties.Select(BatchJson.Text));
            Assert.Equal(expected.Visitors.Select(BatchJson.Text), parts.Visitors.Select(BatchJson.Text));
        }

        foreach (var good in new[] { result.Events[0], result.Events[2] })
        {
            Assert.Equal(Vector.Body, Encoding.UTF8.GetString(good.Body.Span));
            Assert.True(good.TryGetParts(out var goodParts, out string? goodError), goodError);
            Assert.Equal(TestVectors.VisitorsOf(Vector.Body), goodParts!.Visitors.Select(BatchJson.Text));
            Assert.NotNull(good.EnqueuedAt);
        }
    }

    [Fact]
    public void Consecutive_events_with_the_same_header_share_one_header_list()
    {
        var properties = BatchJson.Properties(Vector.Body);
        int account = properties.FindIndex(p => p.Name == "account_id");
        var other = properties.ToList();
        other[account] = ("account_id", "\"999\"");
        string otherBody = BatchJson.Body(other);

        var result = MessageDecoder.Decode(Encoding.UTF8.GetBytes(Message(Vector.Body, Vector.Body, otherBody, otherBody, Vector.Body)), legacy: null);

        Assert.True(result.Succeeded, result.FailureDetail);
        var headers = result.Events.Select(e => e.Parts!.HeaderProperties).ToList();
        Assert.Same(headers[0], headers[1]);
        Assert.NotSame(headers[1], headers[2]);
        Assert.Same(headers[2], headers[3]);
        Assert.NotSame(headers[3], headers[4]);
        Assert.Equal(BatchJson.Header(otherBody), headers[3].Select(BatchJson.Property));
        Assert.Equal(BatchJson.Header(Vector.Body), headers[4].Select(BatchJson.Property));
    }

    [Theory]
    [InlineData("{\"visitors\":[]} x")]
    [InlineData("{\"visitors\":[]}{}")]
    [InlineData("{\"visitors\":[]},")]
    public void A_body_with_text_after_its_object_is_not_an_EventBatch(string body)
    {
        Assert.False(EventBatchParts.TryRead(Encoding.UTF8.GetBytes(body), out var parts, out string? error));

        Assert.Null(parts);
        Assert.StartsWith("Event body is not valid JSON", error, StringComparison.Ordinal);
    }
}
