using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer;
using BulkDispatch.Producer.Buffering;
using BulkDispatch.Producer.Diagnostics;
using BulkDispatch.Producer.Sending;
using BulkDispatch.Tests.Shared;
using BulkDispatch.UnitTests.Core.Sqs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Producer;

/// <summary>
/// The packer's wire formats: version 2 (the default) and version 1 carry every event byte for byte, as Core's reader
/// reads them; version-2 bodies stay under the queue's limit by splitting, never by dropping an event.
/// </summary>
public sealed class MessagePackerTests
{
    private const string QueueUrl = "http://127.0.0.1:9/000000000000/unit";
    private const string Version2Start = "{\"format\":\"bulkdispatch\",\"version\":2,\"codec\":\"zstd\",\"size\":";
    private const string Version1Start = "{\"format\":\"bulkdispatch\",\"version\":1,\"events\":[";
    private static readonly DateTimeOffset At = new(2026, 12, 2, 8, 0, 0, 250, TimeSpan.Zero);

    [Theory]
    [InlineData(1_048_576, MessagePacker.DefaultPayloadBytes)] // the defaults on a 1 MiB queue
    [InlineData(262_144, 32 * 1024)]                             // many messages: several batches
    public void Version_2_messages_carry_every_recorded_sdk_event_byte_for_byte_in_order(int maxMessageBytes, int payloadBytes)
    {
        var queue = new QueueLimits(QueueUrl, maxMessageBytes);
        var events = Recorded();
        using var packer = new MessagePacker(queue, payloadBytes: payloadBytes);

        var messages = Pack(packer, events, queue);

        Assert.All(messages, m => Assert.StartsWith(Version2Start, m, StringComparison.Ordinal));
        Assert.All(messages, m => Assert.True(DeclaredSize(m) <= packer.PayloadTarget, $"a payload of {DeclaredSize(m)} bytes is over the target {packer.PayloadTarget}"));
        // Filled to the target: each message but the last was closed only when the next event did not fit.
        int largest = events.Max(e => WireFormat.EncodeEvent(e).Length);
        Assert.True(messages.Count >= 2, $"{messages.Count} message(s)");
        Assert.All(messages.SkipLast(1), m => Assert.True(DeclaredSize(m) + largest + 1 > packer.PayloadTarget, $"a message of {DeclaredSize(m)} payload bytes was closed early"));
        AssertCarried(events, messages);
    }

    [Fact]
    public void The_version_1_setting_writes_version_1_messages_of_the_same_events()
    {
        var queue = new QueueLimits(QueueUrl, 262_144);
        var events = Recorded();
        using var packer = new MessagePacker(queue, wireFormatVersion: 1);

        var messages = Pack(packer, events, queue);

        Assert.All(messages, m => Assert.StartsWith(Version1Start, m, StringComparison.Ordinal));
        Assert.True(messages.Count >= events.Sum(e => Encoding.UTF8.GetByteCount(e.Body)) / 262_144);
        AssertCarried(events, messages);
    }

    [Fact]
    public void A_version_2_body_over_the_queue_limit_is_split_until_every_part_fits_and_no_event_is_lost()
    {
        // 32 KiB of raw payload per message (4x the limit) of text that hardly compresses: a body is ~1.1x its payload.
        var queue = new QueueLimits(QueueUrl, 8192);
        var random = new Random(5);
        var events = Enumerable.Range(0, 60).Select(i => Event(Incompressible(random, 1500), i)).ToList();
        using var packer = new MessagePacker(queue);

        var messages = Pack(packer, events, queue);

        Assert.Equal(32_768, packer.PayloadTarget);
        Assert.All(messages, m => Assert.StartsWith(Version2Start, m, StringComparison.Ordinal));
        // Unsplit, the 60 events would fill 3 messages of 20; each is over 8 KiB compressed, so split into parts of 2-5.
        Assert.True(messages.Count >= 12, $"{messages.Count} messages: the bodies over the limit were not split");
        AssertCarried(events, messages);
    }

    [Fact]
    public void A_single_event_that_does_not_compress_under_the_queue_limit_goes_as_version_1()
    {
        // As version 1 the event fits (49 + ~6,150 bytes); compressed and in base64 it would be ~6,900.
        var queue = new QueueLimits(QueueUrl, 6500);
        var events = new[] { Event(Incompressible(new Random(9), 6000), 0), Event(TestVectors.All.MinBy(v => v.Body.Length)!.Body, 1) }.ToList();
        using var packer = new MessagePacker(queue);

        var messages = Pack(packer, events, queue);

        Assert.Equal(2, messages.Count);
        Assert.StartsWith(Version1Start, messages[0], StringComparison.Ordinal);
        Assert.StartsWith(Version2Start, messages[1], StringComparison.Ordinal);
        AssertCarried(events, messages);
    }

    [Fact]
    public void Version_2_payloads_carry_emoji_bodies_raw_and_the_reader_splits_them_without_a_copy()
    {
        var queue = new QueueLimits(QueueUrl, 262_144);
        var events = Recorded().Where(e => e.Body.Any(char.IsSurrogate)).ToList();
        Assert.NotEmpty(events); // the recorded SDK data has emoji visitor ids
        using var packer = new MessagePacker(queue);

        var messages = Pack(packer, events, queue);

        var decoded = messages.SelectMany(Decode).ToList();
        Assert.All(messages, m => Assert.DoesNotContain(m, char.IsSurrogate));
        Assert.All(decoded, e => Assert.NotNull(e.Parts)); // read as 'body': a 'bodyText' is unescaped into a copy first
        AssertCarried(events, messages);
    }

    [Fact]
    public void A_single_emoji_event_that_does_not_compress_goes_as_version_1_with_its_body_as_text()
    {
        var queue = new QueueLimits(QueueUrl, 6500);
        string body = Incompressible(new Random(9), 5800).Insert(6, "\U0001F600\U0001F600");
        var events = new[] { Event(body, 0) }.ToList();
        using var packer = new MessagePacker(queue);

        var messages = Pack(packer, events, queue);

        var message = Assert.Single(messages);
        Assert.StartsWith(Version1Start, message, StringComparison.Ordinal);
        Assert.DoesNotContain(message, char.IsSurrogate);
        Assert.Contains("\"bodyText\":", message, StringComparison.Ordinal);
        AssertCarried(events, messages);
    }

    [Fact]
    public async Task A_version_2_message_SQS_rejects_is_halved_and_the_halves_are_compressed_again()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var time = new FakeTimeProvider(At);
        var buffer = new BufferAccounting(1_000, 1 << 30, time);
        using var metrics = new ProducerMetrics(services.GetRequiredService<IMeterFactory>(), () => buffer.Events);
        var warnings = new ProducerWarnings(NullLogger.Instance, new ProducerOptions(), time);
        var sqs = new ScriptedSqs
        {
            // SQS finds a message holding the bad event invalid, whatever else it holds: here it must decode to tell.
            OnSend = (request, _) =>
            {
                bool Bad(SendMessageBatchRequestEntry e) => Decode(e.MessageBody).Any(d => Encoding.UTF8.GetString(d.Body.Span) == "{\"bad\":1}");
                return new SendMessageBatchResponse
                {
                    Successful = [.. request.Entries.Where(e => !Bad(e)).Select(e => new SendMessageBatchResultEntry { Id = e.Id, MessageId = "m" + e.Id })],
                    Failed = [.. request.Entries.Where(Bad).Select(e => new BatchResultErrorEntry { Id = e.Id, SenderFault = true, Code = "InvalidParameterValue", Message = "Invalid" })],
                };
            },
        };
        using var packer = new MessagePacker(new QueueLimits(QueueUrl, 262_144));
        foreach (string body in new[] { TestVectors.All[0].Body, TestVectors.All[1].Body, "{\"bad\":1}", TestVectors.All[2].Body })
        {
            Assert.True(buffer.TryReserve(body.Length));
            Assert.Equal(default, packer.Add(PendingEvent.For(new QueuedEvent(TestVectors.All[0].Url, "POST", new Dictionary<string, string>(), body, At), body.Length)));
        }

        var batch = Assert.IsType<OutgoingBatch>(packer.Take());
        var sender = new BatchSender(packer, new SqsGateway(sqs, new SqsGatewayOptions { TimeProvider = time }), QueueUrl, SqsRetryPolicy.None, new EventOutcomes(buffer, metrics, warnings), metrics, warnings);
        await sender.SendAsync(batch.Messages, CancellationToken.None);

        Assert.Equal([1, 2, 2], sqs.Sends.Select(s => s.Entries.Count).ToArray()); // 4 events; then 2 + 2; then 1 + 1
        Assert.All(sqs.Sends.SelectMany(s => s.Entries), e => Assert.StartsWith(Version2Start, e.MessageBody, StringComparison.Ordinal));
        var stats = metrics.Snapshot(buffer.Events);
        Assert.Equal((3L, 1L, 0L, 0L), (stats.Sent, stats.Refused, stats.Dropped, stats.Buffered));
        Assert.Equal((0L, 0L), (buffer.Events, buffer.Bytes));
    }

    [Fact]
    public void The_payload_target_is_cut_for_a_small_queue_and_the_version_is_checked()
    {
        using var small = new MessagePacker(new QueueLimits(QueueUrl, 65_536));
        using var large = new MessagePacker(new QueueLimits(QueueUrl, 1_048_576));

        Assert.Equal((2, 262_144), (small.WireFormatVersion, small.PayloadTarget));
        Assert.Equal((2, MessagePacker.DefaultPayloadBytes), (large.WireFormatVersion, large.PayloadTarget));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MessagePacker(new QueueLimits(QueueUrl, 65_536), wireFormatVersion: 3));
    }

    /// <summary>Packs the events as the pump does and returns every message body, in order, checking each batch's limits.</summary>
    private static List<string> Pack(MessagePacker packer, List<QueuedEvent> events, QueueLimits queue)
    {
        var batches = new List<OutgoingBatch>();
        foreach (var e in events)
        {
            var packed = packer.Add(PendingEvent.For(e, Encoding.UTF8.GetByteCount(e.Body)));
            Assert.Null(packed.Refusal);
            if (packed.Full is { } full)
            {
                batches.Add(full);
            }
        }

        while (packer.Take() is { } batch)
        {
            batches.Add(batch);
        }

        Assert.Equal(events.Count, batches.Sum(b => b.Events));
        var bodies = new List<string>();
        foreach (var batch in batches)
        {
            var composed = packer.Compose(batch.Messages);
            Assert.InRange(composed.Count, 1, OutgoingBatch.MaxEntries);
            Assert.All(composed, m => Assert.InRange(m.Bytes, 1, queue.MaxMessageBytes));
            Assert.Equal(batch.Messages.Select(m => m.Bytes), composed.Select(m => m.Bytes)); // the sizes the batch was fitted by
            Assert.True(composed.Sum(m => m.Bytes) <= queue.MaxBatchBytes, $"a batch of {composed.Sum(m => m.Bytes)} bytes");
            bodies.AddRange(composed.Select(m => m.Body));
        }

        return bodies;
    }

    /// <summary>Every event, in order, read back by Core's decoder with URL, verb, headers, time and body bytes as published.</summary>
    private static void AssertCarried(List<QueuedEvent> expected, List<string> messages)
    {
        var decoded = messages.SelectMany(Decode).ToList();
        Assert.Equal(expected.Count, decoded.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (want, got) = (expected[i], decoded[i]);
            Assert.Equal((want.Url, want.HttpVerb, (DateTimeOffset?)want.EnqueuedAt), (got.Url, got.HttpVerb, got.EnqueuedAt));
            Assert.Equal(want.Headers.OrderBy(h => h.Key, StringComparer.Ordinal), got.Headers.OrderBy(h => h.Key, StringComparer.Ordinal));
            Assert.True(got.Body.Span.SequenceEqual(Encoding.UTF8.GetBytes(want.Body)), $"event {i}'s body changed");
        }
    }

    private static IReadOnlyList<DecodedEvent> Decode(string message)
    {
        var result = MessageDecoder.Decode(message, legacy: null);
        Assert.True(result.Succeeded, $"{result.FailureReason}: {result.FailureDetail}");
        return result.Events;
    }

    private static int DeclaredSize(string message)
    {
        using var document = JsonDocument.Parse(message);
        return document.RootElement.TryGetProperty("size", out var size) ? size.GetInt32() : 0;
    }

    private static List<QueuedEvent> Recorded() =>
        TestVectors.All.Select((v, i) => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, At.AddMilliseconds(i * 3.5))).ToList();

    private static QueuedEvent Event(string body, int i) =>
        new("https://logx.optimizely.com/v1/events", "POST", new Dictionary<string, string> { ["Content-Type"] = "application/json" }, body, At.AddMilliseconds(i));

    /// <summary>A JSON body of about <paramref name="chars"/> random printable ASCII characters: zstd saves under a fifth of it.</summary>
    private static string Incompressible(Random random, int chars)
    {
        var text = new StringBuilder("{\"r\":\"", chars + 8);
        while (text.Length < chars)
        {
            char c = (char)random.Next(0x20, 0x7F);
            if (c is not ('"' or '\\'))
            {
                text.Append(c);
            }
        }

        return text.Append("\"}").ToString();
    }
}
