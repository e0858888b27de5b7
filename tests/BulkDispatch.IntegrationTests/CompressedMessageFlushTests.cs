using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using BulkDispatch.Tests.Shared;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// Wire format version 2 through the emulator and a real flush: messages from Core's writer reach the Event API
/// with every visitor as the SDK wrote it, next to version-1 messages (a fleet mid-upgrade); a version-2 message
/// that cannot be read is dead-lettered as it came, with its reason, and costs no other message its delivery.
/// </summary>
public sealed class CompressedMessageFlushTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private const string EvilUrl = "https://evil.example/v1/events";

    private static readonly DateTimeOffset At = new(2026, 11, 28, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Version_2_messages_deliver_every_recorded_sdk_event_byte_for_byte_next_to_version_1_messages()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var vectors = TestVectors.All;
        var events = vectors.Select((v, i) => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, At.AddMilliseconds(i))).ToList();
        var compressed = FlushHarness.CompressedMessages(events.Skip(31), perMessage: 100);
        var plain = FlushHarness.Messages(events.Take(31), perMessage: 3).ToList();
        Assert.All(compressed, m => Assert.StartsWith("{\"format\":\"bulkdispatch\",\"version\":2,\"codec\":\"zstd\",", m, StringComparison.Ordinal));
        await h.EnqueueAsync(compressed.Zip(plain, (c, p) => new[] { c, p }).SelectMany(pair => pair).Concat(plain.Skip(compressed.Count)));

        var report = await h.FlushAsync(new Dictionary<string, string?> { ["BulkDispatch:Flush:MaxRequestBytes"] = "200000" });

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(vectors.Count, report.EventsDelivered);
        Assert.Equal(compressed.Count + plain.Count, report.MessagesDeleted);
        Assert.Empty(report.DeadLettered);
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(Sorted(vectors.SelectMany(v => TestVectors.VisitorsOf(v.Body))), Sorted(h.AcceptedVisitors()));

        AssertVisitorsKeptTheirHeaders(vectors.Select(v => v.Body), h.EventApi.AcceptedRequests);

        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task A_version_2_message_that_cannot_be_read_is_dead_lettered_with_its_reason_and_the_rest_of_the_run_is_delivered()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var good = DemoEvents.Generate(150, seed: 12);
        var goodMessages = FlushHarness.CompressedMessages(good, perMessage: 8);
        string source = FlushHarness.CompressedMessages(DemoEvents.GenerateEvents(20, seed: 13), perMessage: 100).Single();

        string flipped = WithFrame(source, frame =>
        {
            frame[frame.Length / 2] ^= 0x5A;
            return frame;
        });
        string truncated = WithFrame(source, frame => frame[..^7]);
        string tooLarge = Replace(source, "\"size\":", "\"size\":900000000", upTo: ',');
        // 2^32 + 20: a reader that cut the count to 32 bits would take it for the 20 events the payload holds.
        string miscounted = Replace(source, "\"count\":", "\"count\":4294967316", upTo: ',');
        string unknownCodec = source.Replace("\"codec\":\"zstd\"", "\"codec\":\"brotli\"", StringComparison.Ordinal);

        // An event-level failure inside a version-2 message: that event alone goes to the dead-letter queue.
        var neighbours = DemoEvents.GenerateEvents(6, seed: 14);
        var evil = neighbours[0] with { Url = EvilUrl };
        string mixedEvil = FlushHarness.CompressedMessages([evil, .. neighbours.Skip(1)], perMessage: 100).Single();

        var bad = new[] { flipped, truncated, tooLarge, miscounted, unknownCodec, mixedEvil };
        var all = new List<string>(goodMessages);
        for (int i = 0; i < bad.Length; i++)
        {
            all.Insert((i + 1) * all.Count / (bad.Length + 1), bad[i]);
        }

        await h.EnqueueAsync(all);

        var report = await h.FlushAsync();

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(all.Count, report.MessagesDeleted);
        Assert.Equal(Sorted(VisitorsOf(good).Concat(VisitorsOf(neighbours.Skip(1)))), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));

        var dlq = await h.ReceiveAllAsync(h.DeadLetterQueueUrl);
        Assert.Equal(bad.Length, dlq.Count);
        var byBody = dlq.ToDictionary(m => m.Body, m => (Reason: FlushHarness.Reason(m), Detail: FlushHarness.Detail(m)));

        // Each unreadable message as it came, with the reason that says what is wrong with it.
        Assert.Equal(DeadLetterReason.Undecodable, byBody[flipped].Reason);
        Assert.StartsWith("Compressed payload is corrupt or truncated", byBody[flipped].Detail, StringComparison.Ordinal);
        Assert.Equal(DeadLetterReason.Undecodable, byBody[truncated].Reason);
        Assert.StartsWith("Compressed payload is corrupt or truncated", byBody[truncated].Detail, StringComparison.Ordinal);
        Assert.Equal(DeadLetterReason.Undecodable, byBody[tooLarge].Reason);
        Assert.Equal(
            $"Message 'size' 900000000 is over this reader's limit of {WireFormat.MaxPayloadBytes} bytes for a decompressed payload.",
            byBody[tooLarge].Detail);
        Assert.Equal(DeadLetterReason.Undecodable, byBody[miscounted].Reason);
        Assert.Equal("Message 'count' is 4294967316, but its payload holds 20 events.", byBody[miscounted].Detail);
        Assert.Equal(DeadLetterReason.UnknownVersion, byBody[unknownCodec].Reason);
        Assert.Contains("unknown codec 'brotli'", byBody[unknownCodec].Detail, StringComparison.Ordinal);

        // The evil event alone, as a version-1 message holding its body unchanged.
        var deadEvent = Assert.Single(dlq, m => FlushHarness.Reason(m) == DeadLetterReason.EndpointNotAllowed);
        var (url, _, body) = SingleEvent(deadEvent);
        Assert.Equal((EvilUrl, evil.Body), (url, body));
    }

    /// <summary>The message with its zstd frame changed (the payload re-encoded as base64).</summary>
    private static string WithFrame(string message, Func<byte[], byte[]> change)
    {
        const string field = "\"payload\":\"";
        int start = message.IndexOf(field, StringComparison.Ordinal) + field.Length;
        int end = message.IndexOf('"', start);
        byte[] frame = change(Convert.FromBase64String(message[start..end]));
        return message[..start] + Convert.ToBase64String(frame) + message[end..];
    }

    /// <summary>The message with the value after <paramref name="name"/> (up to <paramref name="upTo"/>) replaced.</summary>
    private static string Replace(string message, string name, string replacement, char upTo)
    {
        int start = message.IndexOf(name, StringComparison.Ordinal);
        int end = message.IndexOf(upTo, start);
        string changed = message[..start] + replacement + message[end..];
        Assert.NotEqual(message, changed);
        return changed;
    }
}
