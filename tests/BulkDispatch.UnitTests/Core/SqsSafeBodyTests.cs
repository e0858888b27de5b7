using System.Text;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Core;

/// <summary>Bodies with characters outside the BMP travel as an escaped string and still come back byte for byte.</summary>
public sealed class SqsSafeBodyTests
{
    private static readonly Dictionary<string, string> JsonHeaders = new() { ["Content-Type"] = "application/json" };

    [Fact]
    public void Encode_escapes_emoji_bodies_so_the_message_has_only_bmp_characters()
    {
        var withEmoji = TestVectors.All.Where(v => v.Body.Any(char.IsSurrogate)).ToList();
        Assert.NotEmpty(withEmoji); // the recorded SDK data has emoji visitor ids

        foreach (var v in withEmoji)
        {
            string message = WireFormat.Encode([new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, DateTimeOffset.UnixEpoch)]);
            Assert.DoesNotContain(message, char.IsSurrogate);
            Assert.Contains("\"bodyText\":", message, StringComparison.Ordinal);

            var decoded = MessageDecoder.Decode(message, legacy: null);
            Assert.True(decoded.Succeeded, decoded.FailureDetail);
            Assert.Equal(Encoding.UTF8.GetBytes(v.Body), decoded.Events[0].Body.ToArray());
        }
    }

    [Fact]
    public void Encode_keeps_bmp_bodies_raw()
    {
        var plain = TestVectors.All.First(v => !v.Body.Any(char.IsSurrogate) && v.Body.Any(c => c > 127));
        string message = WireFormat.Encode([new QueuedEvent(plain.Url, plain.HttpVerb, plain.Headers, plain.Body, DateTimeOffset.UnixEpoch)]);
        Assert.Contains("\"body\":" + plain.Body, message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"a\":\"\uFFFF\",\"visitors\":[]}")]
    [InlineData("{\"a\":\"\U0001F600\",\"visitors\":[]}")]
    public void SqsSafe_refuses_what_sqs_implementations_may_refuse(string body)
    {
        Assert.False(WireFormat.SqsSafe(Encoding.UTF8.GetBytes(body)));
        string message = WireFormat.Encode([new QueuedEvent("https://logx.optimizely.com/v1/events", "POST", JsonHeaders, body, DateTimeOffset.UnixEpoch)]);
        Assert.Equal(Encoding.UTF8.GetBytes(body), MessageDecoder.Decode(message, null).Events[0].Body.ToArray());
    }

    [Fact]
    public void Encode_refuses_a_body_that_is_not_json_even_when_it_needs_escaping()
    {
        Assert.ThrowsAny<System.Text.Json.JsonException>(() =>
            WireFormat.Encode([new QueuedEvent("https://logx.optimizely.com/v1/events", "POST", JsonHeaders, "{\"x\":\"\U0001F600\"", DateTimeOffset.UnixEpoch)]));
    }
}
