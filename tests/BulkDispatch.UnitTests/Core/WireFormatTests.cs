using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Core;

public sealed partial class WireFormatTests
{
    private static readonly DateTimeOffset Start = new(2026, 7, 14, 9, 30, 15, 123, TimeSpan.FromHours(2));

    public static TheoryData<int> GroupSizes => new() { 1, 7, 10, 25 };

    [Theory]
    [MemberData(nameof(GroupSizes))]
    public void Encode_then_Decode_returns_every_recorded_event_unchanged(int eventsPerMessage)
    {
        var vectors = TestVectors.All;
        Assert.Equal(931, vectors.Count);
        int checkedEvents = 0;
        foreach (var chunk in vectors.Select((v, i) => (Vector: v, Index: i)).Chunk(eventsPerMessage))
        {
            var queued = chunk
                .Select(c => new QueuedEvent(c.Vector.Url, c.Vector.HttpVerb, c.Vector.Headers, c.Vector.Body, Start.AddMilliseconds(c.Index * 37.5)))
                .ToList();

            string message = WireFormat.Encode(queued);
            var result = MessageDecoder.Decode(message, legacy: null);

            Assert.True(result.Succeeded, result.FailureDetail);
            Assert.False(result.IsLegacy);
            Assert.Equal(queued.Count, result.Events.Count);
            for (int i = 0; i < queued.Count; i++)
            {
                var sent = queued[i];
                var got = result.Events[i];
                Assert.Equal(sent.Url, got.Url);
                Assert.Equal(sent.HttpVerb, got.HttpVerb);
                Assert.Equal(
                    sent.Headers.OrderBy(h => h.Key, StringComparer.Ordinal),
                    got.Headers.OrderBy(h => h.Key, StringComparer.Ordinal));
                Assert.Equal(sent.EnqueuedAt, got.EnqueuedAt);
                Assert.True(
                    Encoding.UTF8.GetBytes(sent.Body).AsSpan().SequenceEqual(got.Body.Span),
                    $"Body of vector {chunk[i].Index} changed on the way through the wire format.");
                checkedEvents++;
            }
        }

        Assert.Equal(vectors.Count, checkedEvents);
    }

    [Fact]
    public void Test_vectors_hold_the_bytes_a_reserializer_would_change()
    {
        // The round trip above only proves byte-exactness if the bodies hold such bytes.
        var bodies = TestVectors.All.Select(v => v.Body).ToList();
        Assert.Contains(bodies, b => b.Any(c => c > 0x7F && !char.IsSurrogate(c)));
        Assert.Contains(bodies, b => b.Any(char.IsSurrogate));
        Assert.Contains(bodies, b => b.Contains("\\\"", StringComparison.Ordinal));
        Assert.Contains(bodies, b => WholeDouble().IsMatch(b));
    }

    [Fact]
    public void Encode_embeds_each_body_as_raw_json_not_as_an_escaped_string()
    {
        var vector = TestVectors.All.First(v => v.Body.Contains("\\\"", StringComparison.Ordinal) && v.Body.Any(c => c > 0x7F));
        string message = WireFormat.Encode([new QueuedEvent(vector.Url, vector.HttpVerb, vector.Headers, vector.Body, Start)]);

        Assert.Contains("\"body\":" + vector.Body, message, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(message);
        var body = document.RootElement.GetProperty("events")[0].GetProperty("body");
        Assert.Equal(JsonValueKind.Object, body.ValueKind);
        Assert.Equal(vector.Body, body.GetRawText());
    }

    [Fact]
    public void Encode_writes_the_envelope_and_each_event_field()
    {
        var vector = TestVectors.All[0];
        var headers = new Dictionary<string, string> { ["Content-Type"] = "application/json", ["X-Extra"] = "zoë" };
        string message = WireFormat.Encode(
        [
            new QueuedEvent(vector.Url, "POST", headers, vector.Body, Start),
            new QueuedEvent("https://eu.logx.optimizely.com/v1/events", "POST", headers, vector.Body, Start.AddSeconds(1)),
        ]);

        using var document = JsonDocument.Parse(message);
        var root = document.RootElement;
        Assert.Equal(WireFormat.FormatName, root.GetProperty("format").GetString());
        Assert.Equal(WireFormat.CurrentVersion, root.GetProperty("version").GetInt32());
        Assert.Equal(2, root.GetProperty("events").GetArrayLength());
        var first = root.GetProperty("events")[0];
        Assert.Equal(vector.Url, first.GetProperty("url").GetString());
        Assert.Equal("POST", first.GetProperty("verb").GetString());
        Assert.Equal("zoë", first.GetProperty("headers").GetProperty("X-Extra").GetString());

        // enqueuedAt is ISO-8601 in UTC, whatever offset the producer's clock had.
        string enqueuedAt = first.GetProperty("enqueuedAt").GetString()!;
        var parsed = DateTimeOffset.Parse(enqueuedAt, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        Assert.Equal(TimeSpan.Zero, parsed.Offset);
        Assert.Equal(Start, parsed);
        Assert.StartsWith(Start.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff", CultureInfo.InvariantCulture), enqueuedAt, StringComparison.Ordinal);
    }

    [Fact]
    public void EnvelopeBytes_is_the_size_of_a_message_without_events()
    {
        string empty = WireFormat.Encode([]);
        Assert.Equal(Encoding.UTF8.GetByteCount(empty), WireFormat.EnvelopeBytes);

        var decoded = MessageDecoder.Decode(empty, legacy: null);
        Assert.True(decoded.Succeeded, decoded.FailureDetail);
        Assert.Empty(decoded.Events);
    }

    [Fact]
    public void Encode_refuses_a_body_that_is_not_json()
    {
        var vector = TestVectors.All[0];
        string broken = vector.Body[..^1];
        Assert.ThrowsAny<JsonException>(() => WireFormat.Encode([new QueuedEvent(vector.Url, "POST", vector.Headers, broken, Start)]));
    }

    /// <summary>
    /// The flush dead-letters an invalid event by writing it alone with <c>EncodeOne</c>. A body from
    /// <c>bodyText</c> may be any text; embedded raw it broke the dead-letter message, so a redrive found it
    /// undecodable. Whatever the body, the reader must get the same bytes back.
    /// </summary>
    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("not json")]
    [InlineData("{} x")]
    [InlineData(" {\"visitors\":[]} ")]
    [InlineData("\n[]")]
    [InlineData("[1,2]")]
    [InlineData("null")]
    [InlineData("\"a string\"")]
    [InlineData("{\"visitors\":[]}")]
    [InlineData("{\"note\":\"😀\"}")]
    public void EncodeOne_gives_the_reader_back_any_body_byte_for_byte(string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var e = new DecodedEvent("https://logx.optimizely.com/v1/events", "POST", new Dictionary<string, string>(), bytes, null);

        string message = WireFormat.EncodeOne(e, bytes);

        var decoded = MessageDecoder.Decode(message, legacy: null);
        Assert.True(decoded.Succeeded, $"{decoded.FailureDetail}: {message}");
        Assert.Equal(body, Encoding.UTF8.GetString(Assert.Single(decoded.Events).Body.Span));
    }

    // A double written with a ".0" fraction, which Newtonsoft's defaults and many serializers rewrite.
    [GeneratedRegex(@"[:\[,]-?\d+\.0[,}\]]")]
    private static partial Regex WholeDouble();
}
