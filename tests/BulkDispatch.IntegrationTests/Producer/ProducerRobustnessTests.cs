using System.Text;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Producer;

using static BulkDispatch.IntegrationTests.Producer.ProducerTestSupport;

namespace BulkDispatch.IntegrationTests.Producer;

/// <summary>Every published event ends up sent, dropped or refused, whatever goes wrong around the publisher.</summary>
public sealed class ProducerRobustnessTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Lone_surrogates_in_a_url_or_header_do_not_stop_the_pump()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-surrogates");
        using var sqs = fixture.Emulator.CreateClient();
        var publisher = new SqsEventPublisher(FastOptions(queue), sqs, new CapturingLoggerFactory());
        var valid = Enumerable.Range(0, 20).Select(Varied).ToList();
        await using (publisher)
        {
            var e = valid[0];
            // Not text: JSON cannot carry these as they are. Whatever becomes of those two events, the others must flow.
            bool[] broken =
            [
                publisher.TryPublish(e.Url + "\ud800", e.Verb, e.Headers, e.Body),
                publisher.TryPublish(e.Url, e.Verb, new Dictionary<string, string> { ["X-Broken"] = "\udc00" }, e.Body),
            ];
            Assert.All(valid, v => Assert.True(v.Publish(publisher)));
            await FlushOrFailAsync(publisher, guardSeconds: 60);

            var stats = publisher.Statistics;
            Assert.Equal(valid.Count + broken.Count(b => b), stats.Published);
            Assert.Equal((0L, 0L), (stats.Dropped, stats.Buffered));
            Assert.Equal(stats.Published + broken.Count(b => !b), stats.Sent + stats.Refused);
        }

        var keys = await ReceiveEventKeysAsync(sqs, queue);
        AssertSameMultiset(valid.Select(v => v.Key), keys.Where(k => !k.Contains("X-Broken", StringComparison.Ordinal) && !k.Contains("events\uFFFD", StringComparison.Ordinal)), "valid events published after broken ones");
    }

    [Fact]
    public async Task Events_still_held_at_the_dispose_deadline_are_counted_as_dropped()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-deadline");
        using var sqs = CreateRecordingClient(fixture.Emulator);
        sqs.CloseGate(); // SQS never answers
        var logs = new CapturingLoggerFactory();
        var options = FastOptions(queue);
        options.SendConcurrency = 1;
        options.MaxMessageBytes = 4096; // one recorded event per message, ten per batch: most events wait behind the first send
        options.DisposeTimeout = TimeSpan.FromMilliseconds(300);
        var publisher = new SqsEventPublisher(options, sqs, logs);
        var events = RecordedEvents().Where(e => Encoding.UTF8.GetByteCount(e.Body) < 2500).Take(100).ToList();
        Assert.Equal(100, events.Count);

        Assert.All(events, e => Assert.True(e.Publish(publisher)));
        await publisher.DisposeAsync();

        Assert.Equal(new ProducerStatistics(100, 0, 100, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        Assert.Contains(logs.Warnings, w => w.Contains("DisposeTimeout", StringComparison.Ordinal) || w.Contains("dropped", StringComparison.Ordinal));
        sqs.OpenGate();
    }

    [Fact]
    public async Task A_sender_not_allowed_to_read_the_queue_attributes_still_sends_within_256_KiB_messages()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-send-only");
        using var sqs = CreateRecordingClient(fixture.Emulator);
        sqs.DenyGetQueueAttributes = true;
        var logs = new CapturingLoggerFactory();
        var options = FastOptions(queue);
        options.MaxMessageBytes = 0; // read the queue's limit, which this role may not do
        var publisher = new SqsEventPublisher(options, sqs, logs);
        var events = Enumerable.Range(0, 1_000).Select(Varied).ToList();
        await using (publisher)
        {
            Assert.All(events, e => Assert.True(e.Publish(publisher)));
            await FlushOrFailAsync(publisher, guardSeconds: 60);
            Assert.Equal(new ProducerStatistics(events.Count, events.Count, 0, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        }

        Assert.Contains(logs.Warnings, w => w.Contains("MaximumMessageSize", StringComparison.Ordinal));
        var keys = new List<string>();
        int largest = 0;
        await ReceiveAllAsync(sqs, queue, body =>
        {
            lock (keys)
            {
                largest = Math.Max(largest, Encoding.UTF8.GetByteCount(body));
                keys.AddRange(Decode(body).Select(e => Key(e.Url, e.HttpVerb, e.Headers, e.Body.ToArray())));
            }
        });
        AssertSameMultiset(events.Select(e => e.Key), keys, "events sent without reading the queue's attributes");
        Assert.InRange(largest, 1, 256 * 1024);
    }
}
