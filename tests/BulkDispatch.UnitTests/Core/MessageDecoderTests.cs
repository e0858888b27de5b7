using System.Text;
using BulkDispatch.Core.Events;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Core;

public sealed class MessageDecoderTests
{
    private const string EuUrl = "https://eu.logx.optimizely.com/v1/events";

    private static readonly LegacyHeader Legacy = new(
        "https://logx.optimizely.com/v1/events", "1592310167", "7720880029", "python-sdk", "5.0.1", false, true);

    private static readonly HashSet<string> KnownReasons =
    [
        DeadLetterReason.Undecodable,
        DeadLetterReason.UnknownVersion,
        DeadLetterReason.LegacySettingsMissing,
    ];

    private static RecordedLogEvent Vector => TestVectors.All[0];

    [Fact]
    public void Decode_ignores_unknown_fields_at_the_top_level_and_in_events()
    {
        var second = TestVectors.All.First(v => v.Url == EuUrl);
        string message =
            "{\"future\":{\"nested\":[1,{\"events\":2}]},\"format\":\"bulkdispatch\",\"priority\":\"high\",\"version\":1,\"events\":[" +
            "{\"traceId\":\"abc\",\"url\":\"" + Vector.Url + "\",\"verb\":\"POST\",\"headers\":{\"Content-Type\":\"application/json\"}," +
            "\"attempt\":3,\"body\":" + Vector.Body + ",\"after\":[{\"body\":null}]}," +
            "{\"url\":\"" + EuUrl + "\",\"body\":" + second.Body + ",\"extra\":null}" +
            "],\"signature\":null}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.False(result.IsLegacy);
        Assert.Equal(2, result.Events.Count);
        Assert.Equal(Vector.Url, result.Events[0].Url);
        Assert.Equal("application/json", result.Events[0].Headers["Content-Type"]);
        Assert.Equal(Encoding.UTF8.GetBytes(Vector.Body), result.Events[0].Body.ToArray());
        Assert.Null(result.Events[0].EnqueuedAt);
        Assert.Equal(EuUrl, result.Events[1].Url);
        Assert.Equal("POST", result.Events[1].HttpVerb);
        Assert.Empty(result.Events[1].Headers);
        Assert.Equal(Encoding.UTF8.GetBytes(second.Body), result.Events[1].Body.ToArray());
    }

    [Theory]
    [InlineData("3", "3")]
    [InlineData("2.0", "2.0")]
    [InlineData("0", "0")]
    [InlineData("17", "17")]
    [InlineData("1.5", "1.5")]
    [InlineData("1.0", "1.0")]
    [InlineData("-1", "-1")]
    public void Decode_refuses_unknown_version_with_reason(string versionJson, string shown)
    {
        string message = "{\"format\":\"bulkdispatch\",\"version\":" + versionJson + ",\"events\":[" + EventJson(Vector) + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.False(result.Succeeded);
        Assert.Equal(DeadLetterReason.UnknownVersion, result.FailureReason);
        Assert.Contains($"version {shown} ", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(result.Events);
    }

    [Theory]
    [InlineData("\"1\"", "the string \"1\"")]
    [InlineData("\"2\"", "the string \"2\"")]
    [InlineData("\"one\"", "the string \"one\"")]
    [InlineData("true", "true")]
    [InlineData("null", "null")]
    [InlineData("{\"major\":1}", "an object")]
    [InlineData("[1]", "an array")]
    public void Decode_says_the_version_must_be_a_number_when_it_is_not(string versionJson, string named)
    {
        string message = "{\"format\":\"bulkdispatch\",\"version\":" + versionJson + ",\"events\":[" + EventJson(Vector) + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        // Not unknown-version: no newer reader reads it either, so "upgrade the flush" would be wrong advice.
        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Contains("'version' must be a number", result.FailureDetail, StringComparison.Ordinal);
        Assert.Contains("not " + named + ":", result.FailureDetail, StringComparison.Ordinal);
        Assert.Contains("\"version\":1", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(result.Events);
    }

    [Fact]
    public void Decode_refuses_a_message_without_version_as_undecodable()
    {
        string message = "{\"format\":\"bulkdispatch\",\"events\":[" + EventJson(Vector) + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Contains("no 'version'", result.FailureDetail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"bulkdispatch2\"", "bulkdispatch2")]
    [InlineData("\"BulkDispatch\"", "BulkDispatch")]
    [InlineData("\"\"", "''")]
    public void Decode_refuses_another_format_as_undecodable(string formatJson, string named)
    {
        string message = "{\"format\":" + formatJson + ",\"version\":1,\"events\":[" + EventJson(Vector) + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Contains(named, result.FailureDetail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("hello")]
    [InlineData("null")]
    [InlineData("42")]
    [InlineData("\"a string\"")]
    [InlineData("[]")]
    [InlineData("[{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[]}]")]
    [InlineData("{}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[]} x")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[]}{}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[]")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":{}}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[1]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\"}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"bodyText\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"bodyText\":null}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"bodyText\":[\"{}\"]}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"\",\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":7,\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"visitor\":[[],{}],\"other\":1}")]
    [InlineData("{\"visitor\":[{},[]]}")]
    [InlineData("{\"visitor\":[[],{},{}]}")]
    [InlineData("{\"visitor\":[[]]}")]
    public void Decode_reports_an_undecodable_message_with_a_reason(string message)
    {
        var result = MessageDecoder.Decode(message, Legacy);

        Assert.False(result.Succeeded);
        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.False(string.IsNullOrWhiteSpace(result.FailureDetail));
        Assert.Empty(result.Events);
    }

    [Theory]
    [InlineData("url")]
    [InlineData("body")]
    public void Decode_names_the_missing_event_field(string missing)
    {
        string good = EventJson(Vector);
        string bad = missing == "url"
            ? "{\"verb\":\"POST\",\"body\":" + Vector.Body + "}"
            : "{\"url\":\"" + Vector.Url + "\",\"verb\":\"POST\"}";
        string message = "{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[" + good + "," + bad + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Contains("Event 1 ", result.FailureDetail, StringComparison.Ordinal);
        Assert.Contains($"'{missing}'", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(result.Events);
    }

    [Theory]
    [InlineData("{\"format\":\"\\ud800\",\"version\":1,\"events\":[]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"\\udc00\",\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"verb\":\"\\ud800\",\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"headers\":{\"\\ud800\":\"x\"},\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"headers\":{\"a\":\"\\ud800\"},\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"enqueuedAt\":\"\\ud800\",\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"\\ud800\":[[],{}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"x\",\"enqueuedAt\":\"not a date\",\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"x\",\"headers\":[1,2],\"body\":{\"visitors\":[]}}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"x\",\"headers\":{\"a\":{\"b\":1},\"c\":\"d\"},\"body\":{\"visitors\":[]}}]}")]
    public void Decode_never_throws_on_hostile_strings(string message)
    {
        DecodeResult? result = null;
        var thrown = Record.Exception(() => result = MessageDecoder.Decode(message, Legacy));

        Assert.Null(thrown);
        Assert.True(result!.Succeeded || KnownReasons.Contains(result.FailureReason!), result.FailureReason);
    }

    [Fact]
    public void Decode_never_throws_on_deeply_nested_json()
    {
        string deep = new string('[', 10_000) + new string(']', 10_000);
        foreach (string message in new[]
        {
            deep,
            "{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"x\",\"body\":{\"visitors\":" + deep + "}}]}",
            "{\"visitor\":[" + deep + ",{}]}",
        })
        {
            var result = MessageDecoder.Decode(message, Legacy);
            Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        }
    }

    [Fact]
    public void Decode_never_throws_on_truncated_or_corrupted_messages()
    {
        var vectors = TestVectors.All.Take(3).ToList();
        var now = DateTimeOffset.UnixEpoch;
        string message = WireFormat.Encode(vectors.Select(v => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, now)).ToList());
        string legacy = "{\"a\\\"b\":" + "[[{\"key\":\"k\",\"value\":1.0}],{\"decisions\":[],\"events\":[]}]}";
        var random = new Random(20260714);
        char[] noise = ['{', '}', '[', ']', '"', ',', ':', '\\', 'x', '1', ' ', 'é', '\uD83D'];

        foreach (string original in new[] { message, legacy })
        {
            for (int cut = 0; cut < original.Length; cut += original.Length > 2000 ? 37 : 1)
            {
                AssertDecodes(original[..cut]);
            }

            for (int i = 0; i < 3000; i++)
            {
                var chars = original.ToCharArray();
                int edits = random.Next(1, 4);
                for (int e = 0; e < edits; e++)
                {
                    chars[random.Next(chars.Length)] = noise[random.Next(noise.Length)];
                }

                AssertDecodes(new string(chars));
            }
        }

        static void AssertDecodes(string candidate)
        {
            DecodeResult? result = null;
            var thrown = Record.Exception(() => result = MessageDecoder.Decode(candidate, Legacy));
            Assert.True(thrown is null, $"Decode threw {thrown?.GetType().Name} for: {candidate}");
            Assert.True(result!.Succeeded || KnownReasons.Contains(result.FailureReason!), result.FailureReason);
            Assert.True(result.Succeeded || !string.IsNullOrWhiteSpace(result.FailureDetail));
        }
    }

    /// <summary>
    /// A body that is not an EventBatch is one fault whether it travels as <c>body</c> or as <c>bodyText</c>: the
    /// envelope is fine, so the decoder hands the event on, and the flush's per-event check dead-letters only
    /// that event as invalid-event (before, an array <c>body</c> made the whole message undecodable).
    /// </summary>
    [Theory]
    [InlineData("\"body\":[{\"visitors\":[]}]", "[{\"visitors\":[]}]")]
    [InlineData("\"bodyText\":\"[{\\\"visitors\\\":[]}]\"", "[{\"visitors\":[]}]")]
    [InlineData("\"body\":[]", "[]")]
    [InlineData("\"bodyText\":\"[]\"", "[]")]
    [InlineData("\"body\":\"{}\"", "\"{}\"")]
    [InlineData("\"body\":null", "null")]
    [InlineData("\"bodyText\":\"null\"", "null")]
    [InlineData("\"body\":42", "42")]
    [InlineData("\"bodyText\":\"42\"", "42")]
    [InlineData("\"body\":true", "true")]
    [InlineData("\"bodyText\":\"\"", "")]
    [InlineData("\"bodyText\":\"{\"", "{")]
    [InlineData("\"bodyText\":\"not json\"", "not json")]
    [InlineData("\"body\":{\"account_id\":\"1\"}", "{\"account_id\":\"1\"}")]
    public void Decode_hands_on_a_body_that_is_not_an_EventBatch_whatever_its_form_for_the_flush_to_dead_letter_as_invalid_event(string bodyField, string expectedBody)
    {
        string good = EventJson(Vector);
        string odd = "{\"url\":\"" + Vector.Url + "\"," + bodyField + "}";
        string message = "{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[" + good + "," + odd + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Equal(2, result.Events.Count);
        Assert.Equal(expectedBody, Encoding.UTF8.GetString(result.Events[1].Body.Span));
        Assert.True(EventBatchParts.TryRead(result.Events[0].Body, out _, out _));
        Assert.False(EventBatchParts.TryRead(result.Events[1].Body, out _, out string? error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    /// <summary>Details that quote queue data go into logs and message attributes: never a raw control character, never unbounded.</summary>
    [Theory]
    [InlineData("{\"format\":\"evil\\r\\nINFO: forged line\\u0000\\u0085\\u2028\",\"version\":1,\"events\":[]}", "evil\\r\\nINFO: forged line\\0\\u0085\\u2028")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":\"1\\r\\nINFO: forged\",\"events\":[]}", "1\\r\\nINFO: forged")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[]}\n\rINFO: forged", "")]
    [InlineData("{\"a\\nb\":[[],{}],\"a\\u000ab\":[[],{}]}", "a\\nb")]
    public void Decode_details_quote_queue_data_without_control_characters(string message, string quoted)
    {
        var result = MessageDecoder.Decode(message, Legacy);

        Assert.False(result.Succeeded);
        Assert.DoesNotContain(result.FailureDetail!, char.IsControl);
        Assert.DoesNotContain('\u2028', result.FailureDetail!);
        Assert.Contains(quoted, result.FailureDetail, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_details_quote_at_most_a_few_hundred_characters_of_a_huge_value()
    {
        string huge = new('x', 200_000);
        foreach (string message in new[]
        {
            "{\"format\":\"" + huge + "\",\"version\":1,\"events\":[]}",
            "{\"format\":\"bulkdispatch\",\"version\":\"" + huge + "\",\"events\":[]}",
            "{\"format\":\"bulkdispatch\",\"version\":1" + new string('0', 199_999) + ",\"events\":[]}",
            "{\"" + huge + "\":[[],{}],\"" + huge + "\":[[],{}]}",
        })
        {
            var result = MessageDecoder.Decode(message, Legacy);

            Assert.False(result.Succeeded);
            Assert.InRange(result.FailureDetail!.Length, 10, 500);
            Assert.Contains("200000 characters in all", result.FailureDetail, StringComparison.Ordinal);
        }
    }

    private static string EventJson(RecordedLogEvent vector) =>
        "{\"url\":\"" + vector.Url + "\",\"verb\":\"POST\",\"headers\":{\"Content-Type\":\"application/json\"},\"body\":" + vector.Body + "}";
}
