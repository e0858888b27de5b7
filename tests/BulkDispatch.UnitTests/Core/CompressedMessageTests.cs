using System.Text;
using System.Text.Json;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;
using ZstdSharp;

namespace BulkDispatch.UnitTests.Core;

/// <summary>Wire format version 2 (docs/wire-format.md, Version 2): what the writer writes and the decoder gives back.</summary>
public sealed class CompressedMessageTests
{
    public static TheoryData<int> GroupSizes => new() { 1, 7, 100, 931 };

    [Theory]
    [MemberData(nameof(GroupSizes))]
    public void Write_then_Decode_returns_every_recorded_event_unchanged(int eventsPerMessage)
    {
        var vectors = TestVectors.All;
        Assert.Equal(931, vectors.Count);
        using var writer = new CompressedMessageWriter(WireFormat.MaxPayloadBytes); // all 931 events are 2 MB

        int checkedEvents = 0;
        foreach (var chunk in vectors.Select((v, i) => (Vector: v, Index: i)).Chunk(eventsPerMessage))
        {
            var fragments = CompressedWire.Fragments(chunk.Select(c => c.Vector));
            string body = writer.Write(fragments);
            var pool = new CountingPool();
            var result = CompressedWire.Decode(body, pool);

            Assert.True(result.Succeeded, result.FailureDetail);
            Assert.Equal(chunk.Length, result.Events.Count);
            for (int i = 0; i < chunk.Length; i++)
            {
                var sent = CompressedWire.Queued(chunk[i].Vector, i);
                var got = result.Events[i];
                Assert.Equal(sent.Url, got.Url);
                Assert.Equal(sent.HttpVerb, got.HttpVerb);
                Assert.Equal(sent.Headers.OrderBy(h => h.Key, StringComparer.Ordinal), got.Headers.OrderBy(h => h.Key, StringComparer.Ordinal));
                Assert.Equal(sent.EnqueuedAt, got.EnqueuedAt);
                Assert.True(
                    Encoding.UTF8.GetBytes(sent.Body).AsSpan().SequenceEqual(got.Body.Span),
                    $"Body of vector {chunk[i].Index} changed on the way through wire format version 2.");
                checkedEvents++;
            }

            Assert.Single(pool.Sizes);
            result.Payload!.Dispose();
            Assert.Equal(1, pool.Returned);
        }

        Assert.Equal(vectors.Count, checkedEvents);
    }

    [Fact]
    public void The_body_is_the_documented_envelope_around_one_zstd_frame_of_the_version_1_events_array()
    {
        var fragments = CompressedWire.Fragments(TestVectors.All.Take(40));
        using var writer = new CompressedMessageWriter();
        foreach (var fragment in fragments)
        {
            Assert.True(writer.TryAdd(fragment));
        }

        int bodyBytes = writer.Compress();
        string body = writer.ToBody();

        byte[] payload = CompressedWire.Payload(fragments);
        Assert.Equal(payload.Length, writer.PayloadBytes);
        Assert.Equal(bodyBytes, body.Length);
        Assert.Equal(bodyBytes, Encoding.UTF8.GetByteCount(body));
        Assert.True(body.All(c => c is >= ' ' and < (char)0x7F), "The body is printable ASCII.");
        Assert.StartsWith($"{{\"format\":\"bulkdispatch\",\"version\":2,\"codec\":\"zstd\",\"size\":{payload.Length},\"count\":40,\"payload\":\"", body, StringComparison.Ordinal);
        Assert.EndsWith("\"}", body, StringComparison.Ordinal);

        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        Assert.Equal(["format", "version", "codec", "size", "count", "payload"], root.EnumerateObject().Select(p => p.Name));
        byte[] frame = Convert.FromBase64String(root.GetProperty("payload").GetString()!);
        Assert.Equal(Convert.ToBase64String(frame), root.GetProperty("payload").GetString()); // standard, padded, no line breaks
        Assert.Equal(payload.Length, CompressedPayloadReader.DeclaredContentSize(frame));
        Assert.Equal(0x04, frame[4] & 0x04); // Content_Checksum_flag
        using var decompressor = new Decompressor();
        Assert.Equal(payload, decompressor.Unwrap(frame).ToArray());
        Assert.Equal(CompressedWire.Frame(payload), frame); // zstd level 1, one frame, nothing else
    }

    [Fact]
    public void A_writer_reused_for_many_messages_writes_each_as_a_new_writer_would()
    {
        var vectors = TestVectors.All;
        using var reused = new CompressedMessageWriter();
        foreach (var group in new[] { vectors.Take(300), vectors.Skip(300).Take(2), vectors.Skip(5).Take(150), vectors.Take(0) })
        {
            var fragments = CompressedWire.Fragments(group);
            using var fresh = new CompressedMessageWriter();
            Assert.Equal(fresh.Write(fragments), reused.Write(fragments));
        }
    }

    [Fact]
    public void A_message_without_events_is_an_empty_array()
    {
        using var writer = new CompressedMessageWriter();
        string body = writer.Write([]);

        Assert.StartsWith("{\"format\":\"bulkdispatch\",\"version\":2,\"codec\":\"zstd\",\"size\":2,\"count\":0,", body, StringComparison.Ordinal);
        var result = CompressedWire.Decode(body);
        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Empty(result.Events);
    }

    [Fact]
    public void The_writer_fills_a_payload_exactly_to_its_cap_and_the_reader_takes_it_up_to_its_limit()
    {
        var fragments = CompressedWire.Fragments(TestVectors.All.Take(50));
        int cap = CompressedMessageWriter.PayloadBytesOf(fragments.Sum(f => f.Length), fragments.Count);
        using var writer = new CompressedMessageWriter(cap);
        foreach (var fragment in fragments)
        {
            Assert.True(writer.Fits(fragment.Length));
            Assert.True(writer.TryAdd(fragment));
        }

        Assert.Equal(cap, writer.PayloadBytes);
        Assert.False(writer.Fits(0), "A comma alone would pass the cap.");
        Assert.False(writer.TryAdd(fragments[0]));
        Assert.Equal(50, writer.Count);

        writer.Compress();
        string body = writer.ToBody();
        var atLimit = CompressedWire.Decode(body, maxPayloadBytes: cap);
        Assert.True(atLimit.Succeeded, atLimit.FailureDetail);
        Assert.Equal(50, atLimit.Events.Count);

        var pool = new CountingPool();
        var overLimit = CompressedWire.Decode(body, pool, maxPayloadBytes: cap - 1);
        Assert.Equal(DeadLetterReason.Undecodable, overLimit.FailureReason);
        Assert.Contains($"'size' {cap} is over this reader's limit of {cap - 1} bytes", overLimit.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(pool.Sizes); // refused before anything was decompressed
    }

    [Fact]
    public void A_writer_at_the_default_cap_makes_a_message_readers_accept_and_the_bound_covers_its_body()
    {
        // Cycle the vectors with unique ids until the writer is full: about 480 events, 1 MiB.
        using var encoder = new EventEncoder();
        using var writer = new CompressedMessageWriter();
        var vectors = TestVectors.All;
        var sent = new List<string>();
        for (int i = 0; ; i++)
        {
            var v = vectors[i % vectors.Count];
            string body = v.Body.Replace("\"uuid\":\"", $"\"uuid\":\"{i:x8}", StringComparison.Ordinal);
            byte[] fragment = encoder.Encode(new QueuedEvent(v.Url, v.HttpVerb, v.Headers, body, CompressedWire.Start));
            if (!writer.TryAdd(fragment))
            {
                break;
            }

            sent.Add(body);
        }

        Assert.InRange(writer.PayloadBytes, CompressedMessageWriter.DefaultMaxPayloadBytes - 64 * 1024, CompressedMessageWriter.DefaultMaxPayloadBytes);
        int bodyBytes = writer.Compress();
        Assert.InRange(bodyBytes, 1, CompressedMessageWriter.MaxBodyBytes(writer.PayloadBytes, writer.Count));
        Assert.True(bodyBytes < 256 * 1024, $"A full default payload ({writer.PayloadBytes} bytes) compresses to {bodyBytes} bytes: it fits a 256 KiB queue.");

        var result = CompressedWire.Decode(writer.ToBody());
        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Equal(sent, result.Events.Select(e => Encoding.UTF8.GetString(e.Body.Span)));
    }

    [Fact]
    public void MaxBodyBytes_bounds_the_body_of_a_payload_that_does_not_compress()
    {
        // Random base64 text in a body: about as incompressible as JSON gets.
        var random = new Random(12);
        using var encoder = new EventEncoder();
        using var writer = new CompressedMessageWriter();
        for (int n = 0; n < 6; n++)
        {
            byte[] noise = new byte[random.Next(10, 200_000)];
            random.NextBytes(noise);
            string body = "{\"visitors\":[],\"noise\":\"" + Convert.ToBase64String(noise) + "\"}";
            writer.Clear();
            Assert.True(writer.TryAdd(encoder.Encode(new QueuedEvent("https://logx.optimizely.com/v1/events", "POST", new Dictionary<string, string>(), body, CompressedWire.Start))));
            int bodyBytes = writer.Compress();
            Assert.InRange(bodyBytes, 1, CompressedMessageWriter.MaxBodyBytes(writer.PayloadBytes, writer.Count));
        }
    }

    [Fact]
    public void Decoded_events_do_not_refer_to_the_message_bytes_and_the_payload_is_exactly_the_declared_size()
    {
        var fragments = CompressedWire.Fragments(TestVectors.All.Take(5));
        using var writer = new CompressedMessageWriter();
        byte[] message = Encoding.UTF8.GetBytes(writer.Write(fragments));
        var pool = new CountingPool();

        var result = MessageDecoder.Decode(message, legacy: null, "", pool);
        Array.Fill(message, (byte)'x'); // the flush may give the message's buffer back once a version-2 message is decoded

        Assert.True(result.Succeeded, result.FailureDetail);
        int size = CompressedWire.Payload(fragments).Length;
        Assert.Equal([size], pool.Sizes);
        Assert.Equal(size, result.Payload!.Memory.Length - CountingPool.Slack);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(Encoding.UTF8.GetBytes(TestVectors.All[i].Body), result.Events[i].Body.ToArray());
        }

        Assert.Equal(0, pool.Returned);
        result.Payload.Dispose();
        Assert.Equal(1, pool.Returned);
    }

    [Fact]
    public void Events_of_a_message_share_their_url_verb_and_headers_objects_and_each_change_is_read()
    {
        // The hot path allocates no string per event: equal url, verb and headers text is read once per message.
        var us = TestVectors.All.First(v => v.Url == "https://logx.optimizely.com/v1/events");
        var eu = TestVectors.All.First(v => v.Url == "https://eu.logx.optimizely.com/v1/events");
        var traced = new Dictionary<string, string>(us.Headers) { ["X-Trace"] = "1" };
        QueuedEvent[] sent =
        [
            new(us.Url, "POST", us.Headers, us.Body, CompressedWire.Start),
            new(us.Url, "POST", us.Headers, us.Body, CompressedWire.Start),
            new(eu.Url, "POST", us.Headers, eu.Body, CompressedWire.Start),
            new(eu.Url, "PUT", traced, eu.Body, CompressedWire.Start),
            new(us.Url, "POST", traced, us.Body, CompressedWire.Start),
        ];
        using var encoder = new EventEncoder();
        using var writer = new CompressedMessageWriter();

        var result = CompressedWire.Decode(writer.Write([.. sent.Select(encoder.Encode)]));

        Assert.True(result.Succeeded, result.FailureDetail);
        var got = result.Events;
        Assert.Equal(sent.Select(e => (e.Url, e.HttpVerb)), got.Select(e => (e.Url, e.HttpVerb)));
        Assert.Equal(sent.Select(e => e.Headers.Count), got.Select(e => e.Headers.Count));
        Assert.Equal("1", got[3].Headers["X-Trace"]);
        Assert.Same(got[0].Url, got[1].Url);
        Assert.Same(got[2].Url, got[3].Url);
        Assert.Same(got[0].HttpVerb, got[2].HttpVerb);
        Assert.Same(got[0].Headers, got[1].Headers);
        Assert.Same(got[1].Headers, got[2].Headers);
        Assert.Same(got[3].Headers, got[4].Headers);
    }

    [Fact]
    public void The_overloads_without_a_pool_decode_version_2_too()
    {
        var vector = TestVectors.All[3];
        using var writer = new CompressedMessageWriter();
        string body = writer.Write(CompressedWire.Fragments([vector]));

        var fromString = MessageDecoder.Decode(body, legacy: null);

        Assert.True(fromString.Succeeded, fromString.FailureDetail);
        Assert.Equal(Encoding.UTF8.GetBytes(vector.Body), fromString.Events.Single().Body.ToArray());
        Assert.NotNull(fromString.Payload);
    }

    [Fact]
    public void A_version_1_message_decodes_as_before_without_a_payload_buffer()
    {
        var pool = new CountingPool();
        string v1 = WireFormat.Encode([CompressedWire.Queued(TestVectors.All[0], 0)]);

        var result = MessageDecoder.Decode(Encoding.UTF8.GetBytes(v1), legacy: null, "", pool);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Null(result.Payload);
        Assert.Empty(pool.Sizes);
    }
}
