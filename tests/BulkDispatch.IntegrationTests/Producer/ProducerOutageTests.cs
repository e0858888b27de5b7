using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Amazon.SQS.Model;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Producer;
using BulkDispatch.Sandbox;
using Xunit.Abstractions;

using static BulkDispatch.IntegrationTests.Producer.ProducerTestSupport;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests.Producer;

/// <summary>SQS goes away while the application publishes: the buffer holds what it can, drops are counted exactly, the rest arrives.</summary>
public sealed partial class ProducerOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Emulator_stopped_while_publishing_drops_exactly_the_refused_events_and_delivers_every_other_one()
    {
        const int Capacity = 2_000;
        const int AttemptsDuringOutage = 5_000;
        int port = FreeLoopbackPort();
        int refusedCalls = 0;
        var emulator = await TestEmulators.StartAsync(port);
        try
        {
            string queueName = "producer-outage-" + Guid.NewGuid().ToString("N")[..10];
            string queue = await emulator.CreateQueueAsync(queueName);
            using var sqs = emulator.CreateClient(); // the same endpoint before and after the restart
            var logs = new CapturingLoggerFactory();
            var options = FastOptions(queue);
            options.BufferCapacity = Capacity;
            options.RetryMaxDelay = TimeSpan.FromMilliseconds(200);
            options.DropWarningInterval = TimeSpan.Zero;
            var publisher = new SqsEventPublisher(options, sqs, logs);
            await using (publisher)
            {
                // Before the outage: events flow (and are read off the queue, whose state dies with the emulator).
                var before = Enumerable.Range(0, 500).Select(Varied).ToList();
                Assert.All(before, e => Assert.True(e.Publish(publisher)));
                await FlushOrFailAsync(publisher);
                AssertSameMultiset(before.Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "events sent before the outage");
                Assert.Equal(0, publisher.Statistics.Buffered);

                await emulator.StopAsync();

                // During the outage: nothing can leave the buffer, so exactly Capacity events fit and the rest is refused.
                var accepted = new List<PublishedEvent>();
                for (int i = 500; i < 500 + AttemptsDuringOutage; i++)
                {
                    var e = Varied(i);
                    if (e.Publish(publisher))
                    {
                        accepted.Add(e);
                    }
                    else
                    {
                        refusedCalls++;
                    }
                }

                var during = publisher.Statistics;
                output.WriteLine($"during the outage: {accepted.Count} accepted, {refusedCalls} returned false; {during}");
                Assert.Equal(Capacity, accepted.Count);
                Assert.Equal(AttemptsDuringOutage - Capacity, refusedCalls);
                Assert.Equal(refusedCalls, during.Dropped);
                Assert.Equal(0, during.Refused);
                Assert.Equal(before.Count + accepted.Count, during.Published);
                Assert.Equal(before.Count + AttemptsDuringOutage, during.Published + during.Dropped);
                Assert.Equal(Capacity, during.Buffered);

                // The operator hears about the drops while SQS is still down, not only once it is back.
                await WaitUntilAsync(() => DroppedInWarnings(logs) == refusedCalls, TimeSpan.FromSeconds(60), () => $"drop warnings so far: {string.Join(" | ", logs.Warnings)}");

                await emulator.DisposeAsync();
                emulator = await TestEmulators.StartAsync(port);
                Assert.Equal(queue, await emulator.CreateQueueAsync(queueName)); // same name on the same port: the same URL

                await FlushOrFailAsync(publisher);
                var after = publisher.Statistics;
                output.WriteLine($"after the restart: {after}");
                Assert.Equal(new ProducerStatistics(before.Count + Capacity, before.Count + Capacity, refusedCalls, 0, after.SendRequests, 0), after);
                AssertSameMultiset(accepted.Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "events accepted during the outage");
            }

            // Every drop was reported in a warning, and no more than were dropped.
            Assert.Equal(refusedCalls, publisher.Statistics.Dropped);
            Assert.Equal(refusedCalls, DroppedInWarnings(logs));
        }
        finally
        {
            await emulator.DisposeAsync();
        }
    }

    private static long DroppedInWarnings(CapturingLoggerFactory logs) =>
        logs.Warnings.Select(w => DropWarning().Match(w)).Where(m => m.Success).Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan guard, Func<string> describe)
    {
        using var timeout = new CancellationTokenSource(guard);
        while (!condition())
        {
            if (timeout.IsCancellationRequested)
            {
                Assert.Fail($"not reached within {guard.TotalSeconds:0} s: {describe()}");
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"dropped (\d+) events")]
    private static partial Regex DropWarning();
}
