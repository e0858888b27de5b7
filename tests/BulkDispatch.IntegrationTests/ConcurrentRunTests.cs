using BulkDispatch.Flush.Reporting;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// Overlapping flush runs on one queue (Functions timer runs can overlap) are competing consumers: nothing is
/// lost, no run deletes a message it did not deliver, and a long run keeps its messages hidden from the others.
/// </summary>
[Collection(RunsAloneGroup.Name)]
public sealed class ConcurrentRunTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Two_runs_started_together_deliver_everything_and_each_deletes_only_the_messages_it_delivered()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await using var otherApi = await LocalEventApi.StartAsync();
        var events = DemoEvents.Generate(1000, seed: 31);
        var messages = FlushHarness.Messages(events, perMessage: 1).ToList();
        var visitorsByMessage = messages.Select(VisitorsOfMessage).ToList();
        await h.EnqueueAsync(messages);

        // Each run posts to its own Event API, so what each one delivered can be told apart.
        var runA = h.CreateEngine();
        var runB = h.CreateEngine(new Dictionary<string, string?> { ["BulkDispatch:Optimizely:EndpointOverride"] = otherApi.EventsUrl.ToString() });
        using var start = new SemaphoreSlim(0);
        var a = Task.Run(async () => { await start.WaitAsync(); return await runA.RunAsync(); });
        var b = Task.Run(async () => { await start.WaitAsync(); return await runB.RunAsync(); });
        start.Release(2);
        var reports = await Task.WhenAll(a, b);
        var (reportA, reportB) = (reports[0], reports[1]);

        var deliveredA = h.AcceptedVisitors();
        var deliveredB = otherApi.AcceptedRequests.SelectMany(r => r.VisitorJson).ToList();

        // Nothing lost; with a 30 s visibility timeout and short runs, nothing delivered twice either.
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(deliveredA.Concat(deliveredB)));
        Assert.Equal(0, h.EventApi.SchemaFailures + otherApi.SchemaFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));

        // Every message was deleted exactly once, by the run that received it.
        Assert.Equal(messages.Count, reportA.MessagesDeleted + reportB.MessagesDeleted);
        Assert.Equal(messages.Count, reportA.MessagesReceived + reportB.MessagesReceived);
        foreach (var (report, delivered) in new[] { (reportA, deliveredA), (reportB, deliveredB) })
        {
            Assert.True(report.Complete, report.ToText());
            Assert.Equal(report.MessagesReceived, report.MessagesDeleted);
            Assert.Equal(report.VisitorsDelivered, delivered.Count);

            // The messages this run delivered anything of: each one whole, and as many as it deleted.
            var set = delivered.ToHashSet(StringComparer.Ordinal);
            var touched = visitorsByMessage.Where(vs => vs.Any(set.Contains)).ToList();
            Assert.All(touched, vs => Assert.All(vs, v => Assert.Contains(v, set)));
            Assert.Equal(report.MessagesDeleted, touched.Count);
        }
    }

    [Fact]
    public async Task A_run_that_outlasts_the_visibility_timeout_keeps_its_messages_hidden_from_a_concurrent_run()
    {
        const int visibilitySeconds = 2;
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator, visibilityTimeoutSeconds: visibilitySeconds);
        await using var otherApi = await LocalEventApi.StartAsync();
        var events = DemoEvents.Generate(200, seed: 32);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);

        // Run A: one sender, each request answered after 1.5 s, requests small enough to need several:
        // the run lasts several visibility timeouts.
        h.Faults.Policy = _ => EventApiFault.Delay(TimeSpan.FromSeconds(1.5));
        var slow = h.CreateEngine(new Dictionary<string, string?>
        {
            ["BulkDispatch:Flush:SendConcurrency"] = "1",
            ["BulkDispatch:Flush:MaxRequestBytes"] = "30000",
        });
        var runA = slow.RunAsync();

        // Meanwhile runs B, one after another until A is done, on a healthy endpoint of their own.
        var other = h.CreateEngine(new Dictionary<string, string?> { ["BulkDispatch:Optimizely:EndpointOverride"] = otherApi.EventsUrl.ToString() });
        var reportsB = new List<FlushReport>();
        await UntilAllInFlightAsync(h);
        while (!runA.IsCompleted)
        {
            reportsB.Add(await other.RunAsync());
        }

        var reportA = await runA;

        Assert.True(reportA.Complete, reportA.ToText());
        Assert.True(reportA.RequestsSent >= 4, $"run A made only {reportA.RequestsSent} requests");
        Assert.True(reportA.Duration > TimeSpan.FromSeconds(2 * visibilitySeconds), $"run A took only {reportA.Duration}");
        Assert.True(reportsB.Count >= 2, $"only {reportsB.Count} concurrent runs");

        // No duplicates anywhere: A kept extending the visibility of what it held, so B never saw it.
        var all = h.AcceptedVisitors().Concat(otherApi.AcceptedRequests.SelectMany(r => r.VisitorJson)).ToList();
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(all));
        Assert.All(reportsB, r => Assert.Equal(0, r.MessagesReceived));
        Assert.Empty(otherApi.Requests);
        Assert.Equal(messages.Count, reportA.MessagesReceived);
        Assert.Equal(messages.Count, reportA.MessagesDeleted);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    /// <summary>Waits until no message of the queue is visible: run A has received them all.</summary>
    private static async Task UntilAllInFlightAsync(FlushHarness h)
    {
        for (int i = 0; i < 200; i++)
        {
            var a = await h.Sqs.GetQueueAttributesAsync(new Amazon.SQS.Model.GetQueueAttributesRequest { QueueUrl = h.QueueUrl, AttributeNames = ["ApproximateNumberOfMessages"] });
            if (a.ApproximateNumberOfMessages == 0)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail("run A did not receive the messages within 10 s");
    }

}
