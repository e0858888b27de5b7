using System.Text;
using BulkDispatch.Core.Events;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Core;

/// <summary>
/// A name given twice in one JSON object means different things to different readers (System.Text.Json's
/// DOM and Python's json keep the last, others the first or refuse). Where the flush would act on such a
/// name, the message or event is dead-lettered instead of delivered as one reader's guess: an event must
/// never go to another URL, with another body or under another header than its writer meant.
/// </summary>
public sealed class DuplicateFieldTests
{
    private const string EvilUrl = "https://evil.example/v1/events";

    private static readonly LegacyHeader Legacy = new(
        "https://logx.optimizely.com/v1/events", "1592310167", "7720880029", "python-sdk", "5.0.1", false, true);

    private static RecordedLogEvent Vector => TestVectors.All[0];

    private static string E => "{\"url\":\"" + Vector.Url + "\",\"verb\":\"POST\",\"headers\":{\"Content-Type\":\"application/json\"},\"body\":" + Vector.Body + "}";

    /// <summary>Envelopes, with <c>E</c> standing for a good event and <c>B</c> for a legacy [attributes, snapshot] pair.</summary>
    [Theory]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[E],\"events\":[]}", "events")] // issue 14: the event was lost
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[],\"events\":[E]}", "events")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[E],\"events\":[E]}", "events")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[E],\"events\":null}", "events")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[E],\"events\":{}}", "events")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[E],\"ev\\u0065nts\":[]}", "events")]
    [InlineData("{\"events\":[E],\"format\":\"bulkdispatch\",\"version\":1,\"events\":[]}", "events")]
    [InlineData("{\"events\":[],\"events\":[E],\"format\":\"bulkdispatch\",\"version\":1}", "events")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"version\":2,\"events\":[E]}", "version")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":2,\"version\":1,\"events\":[E]}", "version")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"version\":1,\"events\":[E]}", "version")]
    [InlineData("{\"format\":\"bulkdispatch\",\"format\":\"other\",\"version\":1,\"events\":[E]}", "format")]
    [InlineData("{\"format\":\"other\",\"format\":\"bulkdispatch\",\"version\":1,\"events\":[E]}", "format")]
    [InlineData("{\"format\":B,\"format\":\"bulkdispatch\",\"version\":1,\"events\":[E]}", "format")]
    [InlineData("{\"format\":\"bulkdispatch\",\"format\":B,\"version\":1,\"events\":[E]}", "format")]
    [InlineData("{\"format\":\"bulkdispatch\",\"\\u0066ormat\":\"bulkdispatch\",\"version\":1,\"events\":[E]}", "format")]
    public void Decode_refuses_a_message_that_repeats_an_envelope_field(string template, string field)
    {
        var result = MessageDecoder.Decode(Fill(template), Legacy);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Contains($"2 '{field}' fields", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(result.Events);
    }

    /// <summary>The second event of a message, with <c>U</c> the good URL, <c>X</c> another one and <c>Y</c> a good body.</summary>
    [Theory]
    [InlineData("{\"url\":\"U\",\"url\":\"X\",\"body\":Y}", "two 'url' fields")]
    [InlineData("{\"url\":\"X\",\"body\":Y,\"url\":\"U\"}", "two 'url' fields")]
    [InlineData("{\"url\":\"U\",\"\\u0075rl\":\"X\",\"body\":Y}", "two 'url' fields")]
    [InlineData("{\"url\":\"U\",\"url\":null,\"body\":Y}", "two 'url' fields")]
    [InlineData("{\"url\":\"U\",\"body\":Y,\"body\":{\"account_id\":\"666\",\"visitors\":[]}}", "two 'body' fields")]
    [InlineData("{\"url\":\"U\",\"body\":Y,\"body\":Y}", "two 'body' fields")]
    [InlineData("{\"url\":\"U\",\"bodyText\":\"{\\\"visitors\\\":[]}\",\"bodyText\":\"{\\\"visitors\\\":[]}\"}", "two 'bodyText' fields")]
    [InlineData("{\"url\":\"U\",\"body\":Y,\"bodyText\":\"{\\\"visitors\\\":[]}\"}", "both 'body' and 'bodyText'")]
    [InlineData("{\"url\":\"U\",\"bodyText\":\"{\\\"visitors\\\":[]}\",\"body\":Y}", "both 'body' and 'bodyText'")]
    [InlineData("{\"url\":\"U\",\"verb\":\"POST\",\"verb\":\"GET\",\"body\":Y}", "two 'verb' fields")]
    [InlineData("{\"url\":\"U\",\"headers\":{},\"headers\":{},\"body\":Y}", "two 'headers' fields")]
    [InlineData("{\"url\":\"U\",\"enqueuedAt\":\"2026-01-01T00:00:00Z\",\"enqueuedAt\":\"2026-01-02T00:00:00Z\",\"body\":Y}", "two 'enqueuedAt' fields")]
    [InlineData("{\"url\":\"U\",\"bodyText\":5}", "a 'bodyText' that is not a string")]
    public void Decode_refuses_a_message_with_an_event_that_repeats_a_field(string template, string problem)
    {
        string odd = template.Replace("\"U\"", "\"" + Vector.Url + "\"", StringComparison.Ordinal)
            .Replace("\"X\"", "\"" + EvilUrl + "\"", StringComparison.Ordinal)
            .Replace("Y", Vector.Body, StringComparison.Ordinal);
        string message = "{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[" + E + "," + odd + "," + E + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Equal($"Event 1 has {problem}.", result.FailureDetail);
        Assert.Empty(result.Events);
    }

    [Fact]
    public void Decode_reads_unknown_event_and_header_fields_given_twice_as_it_ignores_them()
    {
        string odd = "{\"url\":\"" + Vector.Url + "\",\"trace\":1,\"trace\":2,\"headers\":{\"Content-Type\":\"a\",\"content-type\":\"b\"},\"body\":" + Vector.Body + "}";
        string message = "{\"format\":\"bulkdispatch\",\"note\":1,\"note\":2,\"version\":1,\"events\":[" + odd + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Equal(Vector.Body, Encoding.UTF8.GetString(Assert.Single(result.Events).Body.Span));
    }

    [Theory]
    [InlineData("{\"v\":B,\"v\":B}", "v")]
    [InlineData("{\"v\":B,\"w\":B,\"\\u0076\":B}", "v")]
    [InlineData("{\"format\":B,\"format\":B}", "format")]
    [InlineData("{\"events\":B,\"version\":B,\"events\":B}", "events")]
    [InlineData("{\"zo\\u00eb\":B,\"zoë\":B}", "zoë")]
    public void Decode_refuses_a_legacy_message_that_names_a_visitor_twice(string template, string visitor)
    {
        var result = MessageDecoder.Decode(Fill(template), Legacy);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Contains($"visitor '{visitor}' twice", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(result.Events);
    }

    [Fact]
    public void Decode_still_reads_legacy_visitors_whose_ids_differ_only_in_case_or_escaping_of_other_characters()
    {
        var result = MessageDecoder.Decode(Fill("{\"v\":B,\"V\":B,\"v \":B,\"\\\"v\\\"\":B}"), Legacy);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.True(EventBatchParts.TryRead(Assert.Single(result.Events).Body, out var parts, out _));
        Assert.Equal(4, parts!.Visitors.Count);
    }

    /// <summary>
    /// Requests are grouped by the set of header properties in any order. Two bodies repeating a name in
    /// opposite orders would share one request under the first body's header, and Optimizely (the last one
    /// wins) would file the second body's visitors under the other account: so such a body is invalid-event.
    /// </summary>
    [Theory]
    [InlineData("{\"account_id\":\"A\",\"account_id\":\"B\",\"visitors\":[]}", "account_id")]
    [InlineData("{\"account_id\":\"A\",\"visitors\":[],\"account_id\":\"B\"}", "account_id")]
    [InlineData("{\"account_id\":\"A\",\"account\\u005fid\":\"B\",\"visitors\":[]}", "account_id")]
    [InlineData("{\"account\\u005fid\":\"A\",\"account_id\":\"B\",\"visitors\":[]}", "account_id")]
    [InlineData("{\"x\":1,\"y\":2,\"x\":1,\"visitors\":[]}", "x")]
    [InlineData("{\"\\n\":1,\"\\u000a\":2,\"visitors\":[]}", "\\n")]
    public void TryRead_refuses_an_EventBatch_that_repeats_a_header_property(string body, string name)
    {
        Assert.False(EventBatchParts.TryRead(Encoding.UTF8.GetBytes(body), out var parts, out string? error));

        Assert.Null(parts);
        Assert.Equal($"Event body has two '{name}' properties.", error);
    }

    [Theory]
    [InlineData(5, false, -1)]
    [InlineData(40, false, -1)]
    [InlineData(40, true, -1)]
    [InlineData(40, false, 3)]
    [InlineData(40, true, 3)]
    [InlineData(40, false, 30)]
    [InlineData(40, true, 30)]
    public void TryRead_finds_a_repeated_header_property_among_many_and_no_other(int count, bool escapeLater, int repeat)
    {
        // Past 16 names the check moves from a scan to a set; an escaped name moves it at once.
        var names = Enumerable.Range(0, count).Select(i => "field_" + i).ToList();
        var written = names.Select((n, i) => escapeLater && i >= count / 2 ? n.Replace("_", "\\u005f", StringComparison.Ordinal) : n).ToList();
        if (repeat >= 0)
        {
            written.Add(names[repeat]);
        }

        string body = "{" + string.Join(",", written.Select(n => "\"" + n + "\":1")) + ",\"visitors\":[{}]}";

        bool read = EventBatchParts.TryRead(Encoding.UTF8.GetBytes(body), out var parts, out string? error);

        if (repeat < 0)
        {
            Assert.True(read, error);
            Assert.Equal(count, parts!.HeaderProperties.Count);
        }
        else
        {
            Assert.False(read);
            Assert.Equal($"Event body has two 'field_{repeat}' properties.", error);
        }
    }

    private static string Fill(string template) => template
        .Replace("B", "[[{\"entity_id\":\"1\",\"key\":\"k\",\"type\":\"custom\",\"value\":1}],{\"decisions\":[],\"events\":[]}]", StringComparison.Ordinal)
        .Replace("[E]", "[" + E + "]", StringComparison.Ordinal);
}
