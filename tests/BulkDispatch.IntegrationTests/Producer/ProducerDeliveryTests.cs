using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Producer;
using BulkDispatch.Tests.Shared;
using Xunit.Abstractions;

using static BulkDispatch.IntegrationTests.Producer.ProducerTestSupport;

namespace BulkDispatch.IntegrationTests.Producer;

/// <summary>The producer against the real emulator: what is published arrives in SQS, exactly and in few requests.</summary>
public sealed class ProducerDeliveryTests(SqsEmulatorFixture fixture, ITestOutputHelper output) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Hundred_thousand_events_from_eight_threads_arrive_exactly_as_published_in_few_requests()
    {
        const int Events = 100_000;
        const int Threads = 8;
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-100k");
        var expected = new PublishedEvent[Events];
        for (int i = 0; i < Events; i++)
        {
            expected[i] = Varied(i);
        }

        var bodyBytes = new ConcurrentDictionary<string, byte[]>(ReferenceEqualityComparer.Instance);
        long totalBodyBytes = expected.Sum(e => (long)bodyBytes.GetOrAdd(e.Body, b => Encoding.UTF8.GetBytes((string)b)).Length);

        using var sqs = CreateRecordingClient(fixture.Emulator);
        var options = FastOptions(queue);
        options.BufferCapacity = Events;
        options.BufferBytes = 1L << 30; // hold all 100,000 (~200 MB of bodies): this test is about exactness, not overflow
        var publisher = new SqsEventPublisher(options, sqs, new CapturingLoggerFactory());
        var accepted = new bool[Events];
        var clock = Stopwatch.StartNew();
        await using (publisher)
        {
            using var start = new Barrier(Threads);
            var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                start.SignalAndWait();
                for (int i = t; i < Events; i += Threads)
                {
                    accepted[i] = expected[i].Publish(publisher);
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            var published = clock.Elapsed;

            await FlushOrFailAsync(publisher);
            var flushed = clock.Elapsed;
            var stats = publisher.Statistics;
            output.WriteLine($"published {Events} events ({totalBodyBytes / 1_000_000.0:0.0} MB of bodies) from {Threads} threads in {published.TotalMilliseconds:0} ms; in SQS after {flushed.TotalSeconds:0.0} s");
            output.WriteLine($"SendMessageBatch requests: {stats.SendRequests} ({stats.SendRequests * 1000.0 / Events:0.00} per 1,000 events); statistics: {stats}");

            Assert.All(accepted, Assert.True);
            Assert.Equal(new ProducerStatistics(Events, Events, 0, 0, stats.SendRequests, 0), stats);
            Assert.Equal(sqs.Calls, stats.SendRequests);
            Assert.True(stats.SendRequests * 100 <= Events, $"{stats.SendRequests} SendMessageBatch requests for {Events} events");
        }

        // Every event read back, compared with what was published under its sequence number.
        var seen = new int[Events];
        var problems = new ConcurrentQueue<string>();
        long eventsRead = 0;
        int messages = await ReceiveAllAsync(sqs, queue, body =>
        {
            foreach (var e in Decode(body))
            {
                Interlocked.Increment(ref eventsRead);
                if (!e.Headers.TryGetValue(SequenceHeader, out var number) || !int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= Events)
                {
                    problems.Enqueue($"an event without a known {SequenceHeader}: {e.Url} {string.Join(",", e.Headers)}");
                    continue;
                }

                var want = expected[i];
                if (Interlocked.Increment(ref seen[i]) > 1)
                {
                    problems.Enqueue($"event {i} arrived more than once");
                }

                if (e.Url != want.Url || e.HttpVerb != want.Verb || !SameHeaders(want.Headers, e.Headers) || !e.Body.Span.SequenceEqual(bodyBytes[want.Body]))
                {
                    problems.Enqueue($"event {i} arrived changed: {e.Url} {e.HttpVerb} {string.Join(",", e.Headers)} body of {e.Body.Length} bytes");
                }
            }
        });
        output.WriteLine($"read back {messages} messages ({Events / (double)messages:0.0} events each) after {clock.Elapsed.TotalSeconds:0.0} s");

        Assert.Empty(problems.Take(10));
        var missing = Enumerable.Range(0, Events).Where(i => seen[i] == 0).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} events never arrived, e.g. {string.Join(", ", missing.Take(10))}");
        Assert.Equal(Events, eventsRead);
    }

    [Fact]
    public async Task Recorded_sdk_bodies_pass_through_byte_for_byte_including_non_ascii_and_emoji()
    {
        var events = RecordedEvents();
        // The comparison below only proves something if the inputs hold what a re-serializer would change.
        Assert.Equal(931, events.Count);
        Assert.Contains(events, e => e.Body.Any(c => c > 0x7F && !char.IsSurrogate(c)));
        Assert.Contains(events, e => e.Body.Any(char.IsSurrogate));

        string queue = await CreateQueueAsync(fixture.Emulator, "producer-vectors");
        using var sqs = fixture.Emulator.CreateClient();
        var publisher = new SqsEventPublisher(FastOptions(queue), sqs, new CapturingLoggerFactory());
        await using (publisher)
        {
            Assert.All(events, e => Assert.True(e.Publish(publisher)));
            await FlushOrFailAsync(publisher);
            Assert.Equal(new ProducerStatistics(events.Count, events.Count, 0, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        }

        AssertSameMultiset(events.Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "recorded SDK events read back from SQS");
    }

    [Fact]
    public async Task DisposeAsync_sends_ten_thousand_buffered_events()
    {
        const int Events = 10_000;
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-dispose");
        var expected = Enumerable.Range(0, Events).Select(Varied).ToList();
        using var sqs = CreateRecordingClient(fixture.Emulator);
        sqs.CloseGate(); // nothing reaches SQS until DisposeAsync runs: all 10,000 are buffered
        var publisher = new SqsEventPublisher(FastOptions(queue), sqs, new CapturingLoggerFactory());
        try
        {
            Assert.All(expected, e => Assert.True(e.Publish(publisher)));
            var before = publisher.Statistics;
            Assert.Equal(Events, before.Buffered);
            Assert.Equal(0, before.Sent);
        }
        finally
        {
            sqs.OpenGate();
            await publisher.DisposeAsync();
        }

        Assert.Equal(new ProducerStatistics(Events, Events, 0, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        AssertSameMultiset(expected.Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "events read back after DisposeAsync");
    }

    [Fact]
    public async Task Published_events_reach_the_event_api_byte_identical_through_one_flush()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = RecordedEvents().Concat(DemoBodies.Take(300).Select(d => new PublishedEvent(d.Url, d.HttpVerb, d.Headers, d.Body))).ToList();
        using (var sqs = fixture.Emulator.CreateClient())
        {
            var publisher = new SqsEventPublisher(FastOptions(h.QueueUrl), sqs, new CapturingLoggerFactory());
            await using (publisher)
            {
                Assert.All(events, e => Assert.True(e.Publish(publisher)));
                await FlushOrFailAsync(publisher);
                Assert.Equal(events.Count, publisher.Statistics.Sent);
            }
        }

        var report = await h.FlushAsync();

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(events.Count, report.EventsDelivered);
        var expectedVisitors = events.SelectMany(e => TestVectors.VisitorsOf(e.Body)).Order(StringComparer.Ordinal).ToList();
        var receivedVisitors = h.AcceptedVisitors().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expectedVisitors.Count, receivedVisitors.Count);
        Assert.Equal(expectedVisitors, receivedVisitors);
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    private static bool SameHeaders(IReadOnlyDictionary<string, string> want, IReadOnlyDictionary<string, string> got) =>
        want.Count == got.Count && want.All(h => got.TryGetValue(h.Key, out var v) && v == h.Value && got.Keys.Contains(h.Key, StringComparer.Ordinal));
}
