using System.Text;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Producer;
using BulkDispatch.Tests.Shared;

using static BulkDispatch.IntegrationTests.Producer.ProducerTestSupport;

namespace BulkDispatch.IntegrationTests.Producer;

/// <summary>Events that cannot be delivered are refused with a reason and counted; full buffers and disposal count drops.</summary>
public sealed class ProducerRefusalTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private const string Url = "https://logx.optimizely.com/v1/events";
    private static readonly Dictionary<string, string> JsonHeaders = new() { ["Content-Type"] = "application/json" };

    [Fact]
    public async Task Partial_batch_failure_delivers_the_valid_entry_and_refuses_the_oversized_one_once()
    {
        // The queue takes 1 KiB; the producer is told 4 KiB, so it writes a message the queue must refuse.
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-partial", new() { [QueueAttributeName.MaximumMessageSize] = "1024" });
        var valid = new PublishedEvent(Url, "POST", JsonHeaders, BodyWithFragment(960));
        var oversized = new PublishedEvent(Url, "POST", JsonHeaders, BodyOfBytes(4096 - 1024));
        // Too big to share one message of 4 KiB, so they travel as two entries of one SendMessageBatch.
        Assert.True(FragmentBytes(valid) + FragmentBytes(oversized) + WireFormat.EnvelopeBytes + 1 > 4096);
        Assert.True(FragmentBytes(valid) + WireFormat.EnvelopeBytes <= 1024);

        using var sqs = CreateRecordingClient(fixture.Emulator);
        var logs = new CapturingLoggerFactory();
        var options = FastOptions(queue);
        options.MaxMessageBytes = 4096;
        options.WireFormatVersion = 1; // a message as large as its events (compressed, both would fit the queue)
        options.Linger = TimeSpan.FromSeconds(2); // both publishes land in the same batch
        var publisher = new SqsEventPublisher(options, sqs, logs);
        await using (publisher)
        {
            Assert.True(oversized.Publish(publisher));
            Assert.True(valid.Publish(publisher));
            await FlushOrFailAsync(publisher, guardSeconds: 60); // returns: the refused entry is not retried forever
            Assert.Equal(new ProducerStatistics(2, 1, 0, 1, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        }

        Assert.Contains(sqs.Answers, a => a is { Entries: 2, Successful: 1, Failed: 1 });
        Assert.Equal(valid.Key, Assert.Single(await ReceiveEventKeysAsync(sqs, queue)));
        var warning = Assert.Single(logs.Warnings, w => w.Contains("refused", StringComparison.Ordinal));
        Assert.Contains("Message must be shorter than 1024 bytes", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversized_event_packed_with_valid_ones_is_refused_alone_and_the_valid_ones_arrive()
    {
        // The producer believes in 64 KiB messages; the queue takes 1 KiB. All events share one message at first.
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-split", new() { [QueueAttributeName.MaximumMessageSize] = "1024" });
        var valid = Enumerable.Range(0, 20).Select(i => new PublishedEvent(Url, "POST", new Dictionary<string, string>(JsonHeaders) { [SequenceHeader] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }, BodyWithFragment(600))).ToList();
        var oversized = new PublishedEvent(Url, "POST", JsonHeaders, BodyOfBytes(3000));
        using var sqs = fixture.Emulator.CreateClient();
        var logs = new CapturingLoggerFactory();
        var options = FastOptions(queue);
        options.MaxMessageBytes = 65536;
        options.WireFormatVersion = 1; // a message as large as its events (compressed, these would fit the queue)
        options.Linger = TimeSpan.FromSeconds(2);
        var publisher = new SqsEventPublisher(options, sqs, logs);
        await using (publisher)
        {
            Assert.All(valid.Take(10), e => Assert.True(e.Publish(publisher)));
            Assert.True(oversized.Publish(publisher));
            Assert.All(valid.Skip(10), e => Assert.True(e.Publish(publisher)));
            await FlushOrFailAsync(publisher, guardSeconds: 60);
            Assert.Equal(new ProducerStatistics(21, 20, 0, 1, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        }

        AssertSameMultiset(valid.Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "valid events packed with an oversized one");
        var warning = Assert.Single(logs.Warnings, w => w.Contains("refused", StringComparison.Ordinal));
        Assert.Contains("Message must be shorter than 1024 bytes", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_compressed_message_the_queue_refuses_is_halved_until_only_the_event_that_cannot_fit_is_refused()
    {
        // As above, in version 2 (the default): bodies of random text hardly compress, so a message of all 21 events is
        // ~15 KB, the queue refuses it, and the halves are compressed again until each valid event travels under 1 KiB.
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-split-v2", new() { [QueueAttributeName.MaximumMessageSize] = "1024" });
        var random = new Random(21);
        var valid = Enumerable.Range(0, 20).Select(i => new PublishedEvent(Url, "POST", new Dictionary<string, string>(JsonHeaders) { [SequenceHeader] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }, RandomBody(random, 150))).ToList();
        var oversized = new PublishedEvent(Url, "POST", JsonHeaders, RandomBody(random, 3000));
        using var sqs = CreateRecordingClient(fixture.Emulator);
        var logs = new CapturingLoggerFactory();
        var options = FastOptions(queue);
        options.MaxMessageBytes = 65536;
        options.Linger = TimeSpan.FromSeconds(2);
        var publisher = new SqsEventPublisher(options, sqs, logs);
        await using (publisher)
        {
            Assert.All(valid.Take(10), e => Assert.True(e.Publish(publisher)));
            Assert.True(oversized.Publish(publisher));
            Assert.All(valid.Skip(10), e => Assert.True(e.Publish(publisher)));
            await FlushOrFailAsync(publisher, guardSeconds: 60);
            Assert.Equal(new ProducerStatistics(21, 20, 0, 1, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        }

        Assert.Contains(sqs.Answers, a => a is { Entries: 1, Successful: 0, Failed: 1 }); // the whole message, refused
        Assert.All(sqs.SentBodies, b => Assert.StartsWith("{\"format\":\"bulkdispatch\",\"version\":2,", b, StringComparison.Ordinal));
        AssertSameMultiset(valid.Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "valid events packed with an oversized one, compressed");
        var warning = Assert.Single(logs.Warnings, w => w.Contains("refused", StringComparison.Ordinal));
        Assert.Contains("Message must be shorter than 1024 bytes", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TryPublish_refuses_an_event_larger_than_the_largest_message_with_a_reason()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-too-large");
        using var sqs = fixture.Emulator.CreateClient();
        var logs = new CapturingLoggerFactory();
        var options = FastOptions(queue);
        options.MaxMessageBytes = 4096;
        var publisher = new SqsEventPublisher(options, sqs, logs);
        await using (publisher)
        {
            string body = BodyOfBytes(5000);
            Assert.False(publisher.TryPublish(Url, "POST", JsonHeaders, body));
            Assert.Equal(new ProducerStatistics(0, 0, 0, 1, 0, 0), publisher.Statistics);
            var warning = Assert.Single(logs.Warnings);
            Assert.Contains($"{Encoding.UTF8.GetByteCount(body)} bytes", warning, StringComparison.Ordinal);
            Assert.Contains("4096", warning, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TryPublish_refuses_missing_bodies_and_urls_without_throwing()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-invalid");
        using var sqs = fixture.Emulator.CreateClient();
        var logs = new CapturingLoggerFactory();
        var publisher = new SqsEventPublisher(FastOptions(queue), sqs, logs);
        string body = TestVectors.All[0].Body;
        await using (publisher)
        {
            Assert.False(publisher.TryPublish(Url, "POST", JsonHeaders, null!));
            Assert.False(publisher.TryPublish(Url, "POST", JsonHeaders, ""));
            Assert.False(publisher.TryPublish(null!, "POST", JsonHeaders, body));
            Assert.False(publisher.TryPublish("", "POST", JsonHeaders, body));
            Assert.Equal(new ProducerStatistics(0, 0, 0, 4, 0, 0), publisher.Statistics);

            // A body that is not JSON is found by the pump (TryPublish does not parse): refused there, and the pump goes on.
            Assert.True(publisher.TryPublish(Url, "POST", JsonHeaders, "{\"visitors\": [ not json"));
            // Neither headers nor a verb are required: the verb defaults to POST.
            Assert.True(publisher.TryPublish(Url, null!, null!, body));
            await FlushOrFailAsync(publisher);
            Assert.Equal(new ProducerStatistics(2, 1, 0, 5, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        }

        // The four missing-input refusals are one kind: logged once per DropWarningInterval; the invalid body is another.
        Assert.Equal(2, logs.Warnings.Count(w => w.Contains("refused", StringComparison.Ordinal)));
        Assert.Contains(logs.Warnings, w => w.Contains("not valid JSON", StringComparison.Ordinal));
        Assert.Equal(Key(Url, "POST", new Dictionary<string, string>(), Encoding.UTF8.GetBytes(body)), Assert.Single(await ReceiveEventKeysAsync(sqs, queue)));
    }

    [Fact]
    public async Task TryPublish_after_DisposeAsync_returns_false_and_counts_a_drop()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-disposed");
        using var sqs = fixture.Emulator.CreateClient();
        var publisher = new SqsEventPublisher(FastOptions(queue), sqs, new CapturingLoggerFactory());
        var e = Varied(0);
        Assert.True(e.Publish(publisher));
        await publisher.DisposeAsync();

        Assert.False(e.Publish(publisher));
        Assert.False(e.Publish(publisher));
        Assert.Equal(new ProducerStatistics(1, 1, 2, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        await publisher.FlushAsync(); // returns at once after disposal
        await publisher.DisposeAsync(); // a second dispose is harmless
        Assert.Equal(e.Key, Assert.Single(await ReceiveEventKeysAsync(sqs, queue)));
    }

    [Fact]
    public async Task A_full_buffer_drops_the_newest_event_by_default()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-full");
        using var sqs = CreateRecordingClient(fixture.Emulator);
        sqs.CloseGate(); // SQS does not answer: nothing leaves the buffer
        var options = FastOptions(queue);
        options.BufferCapacity = 10;
        var publisher = new SqsEventPublisher(options, sqs, new CapturingLoggerFactory());
        var events = Enumerable.Range(0, 15).Select(Varied).ToList();
        try
        {
            var results = events.Select(e => e.Publish(publisher)).ToList();
            Assert.Equal([.. Enumerable.Repeat(true, 10), .. Enumerable.Repeat(false, 5)], results);
            Assert.Equal(new ProducerStatistics(10, 0, 5, 0, publisher.Statistics.SendRequests, 10), publisher.Statistics);
        }
        finally
        {
            sqs.OpenGate();
            await publisher.DisposeAsync();
        }

        Assert.Equal(new ProducerStatistics(10, 10, 5, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        AssertSameMultiset(events.Take(10).Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "events that found room");
    }

    [Fact]
    public async Task Block_policy_drops_after_BlockTimeout_when_no_room_appears()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-block-drop");
        using var sqs = CreateRecordingClient(fixture.Emulator);
        sqs.CloseGate();
        var options = FastOptions(queue);
        options.BufferCapacity = 10;
        options.OverflowPolicy = OverflowPolicy.Block;
        options.BlockTimeout = TimeSpan.FromMilliseconds(100);
        var publisher = new SqsEventPublisher(options, sqs, new CapturingLoggerFactory());
        var events = Enumerable.Range(0, 12).Select(Varied).ToList();
        try
        {
            Assert.All(events.Take(10), e => Assert.True(e.Publish(publisher)));
            Assert.False(events[10].Publish(publisher));
            Assert.False(events[11].Publish(publisher));
            Assert.Equal(new ProducerStatistics(10, 0, 2, 0, publisher.Statistics.SendRequests, 10), publisher.Statistics);
        }
        finally
        {
            sqs.OpenGate();
            await publisher.DisposeAsync();
        }

        Assert.Equal(new ProducerStatistics(10, 10, 2, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        AssertSameMultiset(events.Take(10).Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "events that found room");
    }

    [Fact]
    public async Task Block_policy_waits_for_room_and_then_accepts_the_event()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-block-wait");
        using var sqs = CreateRecordingClient(fixture.Emulator);
        sqs.CloseGate();
        var options = FastOptions(queue);
        options.BufferCapacity = 10;
        options.OverflowPolicy = OverflowPolicy.Block;
        options.BlockTimeout = TimeSpan.FromMinutes(1);
        var publisher = new SqsEventPublisher(options, sqs, new CapturingLoggerFactory());
        var events = Enumerable.Range(0, 11).Select(Varied).ToList();
        try
        {
            Assert.All(events.Take(10), e => Assert.True(e.Publish(publisher)));
            var waiting = Task.Factory.StartNew(() => events[10].Publish(publisher), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            await Task.Delay(200);
            Assert.False(waiting.IsCompleted, "TryPublish returned while the buffer was full, under OverflowPolicy.Block with a minute to wait");
            sqs.OpenGate(); // the buffered events go out and make room
            Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(55)));
            await FlushOrFailAsync(publisher);
            Assert.Equal(new ProducerStatistics(11, 11, 0, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        }
        finally
        {
            sqs.OpenGate();
            await publisher.DisposeAsync();
        }

        AssertSameMultiset(events.Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "events published under OverflowPolicy.Block");
    }

    /// <summary>A small SDK-shaped body, its visitor id padded so the event's wire fragment has about the given size.</summary>
    private static string BodyWithFragment(int fragmentBytes)
    {
        string body = SmallestBody();
        return Pad(body, fragmentBytes - FragmentBytes(new PublishedEvent(Url, "POST", JsonHeaders, body)));
    }

    /// <summary>A small SDK-shaped body, its visitor id padded to exactly <paramref name="bytes"/> UTF-8 bytes.</summary>
    private static string BodyOfBytes(int bytes)
    {
        string body = SmallestBody();
        string padded = Pad(body, bytes - Encoding.UTF8.GetByteCount(body));
        Assert.Equal(bytes, Encoding.UTF8.GetByteCount(padded));
        return padded;
    }

    /// <summary>A small EventBatch in the SDK's shape: one visitor with one conversion (the recorded ones are all larger than 750 bytes).</summary>
    private static string SmallestBody() =>
        "{\"account_id\":\"1592310167\",\"project_id\":\"7720880029\",\"revision\":\"15\",\"client_name\":\"csharp-sdk\",\"client_version\":\"4.4.0\","
        + "\"anonymize_ip\":false,\"enrich_decisions\":true,\"visitors\":[{\"snapshots\":[{\"decisions\":[],\"events\":[{\"entity_id\":\"7718020063\","
        + "\"uuid\":\"4a1b2c3d-0000-4000-8000-000000000001\",\"key\":\"purchase\",\"timestamp\":1795435200000}]}],\"attributes\":[],\"visitor_id\":\"zoë-1\"}]}";

    /// <summary>A small SDK-shaped body whose visitor id is about <paramref name="chars"/> random printable ASCII characters: it hardly compresses.</summary>
    private static string RandomBody(Random random, int chars)
    {
        var id = new StringBuilder(chars);
        while (id.Length < chars)
        {
            char c = (char)random.Next(0x20, 0x7F);
            if (c is not ('"' or '\\'))
            {
                id.Append(c);
            }
        }

        return SmallestBody().Replace("zoë-1", id.ToString(), StringComparison.Ordinal);
    }

    private static string Pad(string body, int padding)
    {
        Assert.True(padding >= 0, "the base body is larger than the size the test needs");
        const string VisitorId = "\"visitor_id\":\"";
        int at = body.IndexOf(VisitorId, StringComparison.Ordinal);
        Assert.True(at >= 0);
        return body.Insert(at + VisitorId.Length, new string('p', padding));
    }

    private static int FragmentBytes(PublishedEvent e) =>
        WireFormat.EncodeEvent(new QueuedEvent(e.Url, e.Verb, e.Headers, e.Body, DateTimeOffset.UtcNow)).Length;
}
