using System.Text;
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
    [InlineData("2", "2")]
    [InlineData("0", "0")]
    [InlineData("17", "17")]
    [InlineData("1.5", "1.5")]
    [InlineData("\"1\"", "1")]
    public void Decode_refuses_unknown_version_with_reason(string versionJson, string shown)
    {
        string message = "{\"format\":\"bulkdispatch\",\"version\":" + versionJson + ",\"events\":[" + EventJson(Vector) + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.False(result.Succeeded);
        Assert.Equal(DeadLetterReason.UnknownVersion, result.FailureReason);
        Assert.Contains($"version {shown} ", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(result.Events);
    }

    [Fact]
    public void Decode_refuses_a_message_without_version_as_unknown_version()
    {
        string message = "{\"format\":\"bulkdispatch\",\"events\":[" + EventJson(Vector) + "]}";

        var result = MessageDecoder.Decode(message, Legacy);

        Assert.Equal(DeadLetterReason.UnknownVersion, result.FailureReason);
        Assert.Contains("missing", result.FailureDetail, StringComparison.Ordinal);
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
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"body\":null}]}")]
    [InlineData("{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[{\"url\":\"https://logx.optimizely.com/v1/events\",\"body\":\"{}\"}]}")]
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

    private static string EventJson(RecordedLogEvent vector) =>
        "{\"url\":\"" + vector.Url + "\",\"verb\":\"POST\",\"headers\":{\"Content-Type\":\"application/json\"},\"body\":" + vector.Body + "}";
}
