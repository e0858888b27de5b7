using System.Globalization;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Reporting;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using Xunit.Abstractions;
using static BulkDispatch.IntegrationTests.Infrastructure.FaultTestHelpers;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// Transient is not permanent: 5xx, 429, dropped connections and hangs are retried inside the run
/// (honouring Retry-After); when retries run out, nothing is deleted and the run stops draining.
/// </summary>
public sealed class TransientFailureTests(SqsEmulatorFixture fixture, ITestOutputHelper output) : IClassFixture<SqsEmulatorFixture>
{
    private const int MaxRetries = 2; // FlushHarness.FastSettings

    [Fact]
    public async Task Flush_leaves_messages_when_endpoint_keeps_failing_and_next_run_delivers_them()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator, visibilityTimeoutSeconds: 2);
        var events = DemoEvents.Generate(300, seed: 11);
        var messages = FlushHarness.Messages(events, perMessage: 1).ToList();
        await h.EnqueueAsync(messages);
        h.Faults.Policy = _ => EventApiFault.Status(500, "internal error");

        // One receive loop and a small memory budget: the run holds only a few messages when the first
        // request runs out of retries, so we can see that it stops receiving instead of draining the queue.
        const int sendConcurrency = 2;
        var report = await h.FlushAsync(new Dictionary<string, string?>
        {
            ["BulkDispatch:Flush:ReceiveConcurrency"] = "1",
            ["BulkDispatch:Flush:SendConcurrency"] = sendConcurrency.ToString(CultureInfo.InvariantCulture),
            ["BulkDispatch:Flush:MaxRequestBytes"] = "4096",
            ["BulkDispatch:Flush:MaxBufferedBytes"] = "8192",
        });

        output.WriteLine(report.ToText());
        output.WriteLine(string.Join(Environment.NewLine, h.EventApi.Requests));
        Assert.False(report.Complete, report.ToText());
        Assert.Equal(FlushStopReason.TransientFailure, report.StopReason);
        Assert.True(report.TransientFailures > 0, report.ToText());
        Assert.Equal(0, report.MessagesDeleted);
        Assert.Equal(0, report.VisitorsDelivered);
        Assert.Empty(report.DeadLettered);
        Assert.InRange(report.MessagesReceived, 1, messages.Count - 1); // it stopped draining

        // Only the requests already in flight were sent, each retried to exhaustion; nothing else was tried.
        var requests = h.EventApi.Requests;
        Assert.All(requests, r => Assert.Equal(500, r.Status));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        var distinct = requests.GroupBy(r => Convert.ToBase64String(r.Body)).ToList();
        Assert.InRange(distinct.Count, 1, sendConcurrency);
        Assert.All(distinct, g => Assert.Equal(MaxRetries + 1, g.Count()));
        Assert.Equal(distinct.Count, report.RequestsSent);
        Assert.Empty(h.AcceptedVisitors());

        // Nothing was deleted or dead-lettered: once the visibility timeout passes the queue holds exactly what went in.
        Assert.Equal(messages.Count, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(Sorted(messages), await WaitUntilAllBackAsync(h, h.QueueUrl, messages.Count, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(15)));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));

        // The endpoint is healthy again: the next run delivers every visitor exactly once.
        h.Faults.Policy = null;
        h.Faults.ClearQueued();
        h.EventApi.Reset();
        await SetVisibilityTimeoutAsync(h, h.QueueUrl, 30); // no redelivery inside the run on a slow machine
        var second = await h.FlushAsync();
        output.WriteLine(second.ToText());

        Assert.True(second.Complete, second.ToText());
        Assert.Equal(messages.Count, second.MessagesReceived);
        Assert.Equal(messages.Count, second.MessagesDeleted);
        Assert.Equal(events.Count, second.EventsDelivered);
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task Flush_waits_the_Retry_After_of_a_429_before_retrying()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(200, seed: 12);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);
        h.Faults.FailNext(EventApiFault.TooManyRequests(TimeSpan.FromSeconds(3)));

        var report = await h.FlushAsync(); // RetryBaseDelay is 50 ms: only the header can make the retry wait 3 s

        output.WriteLine(report.ToText());
        output.WriteLine(string.Join(Environment.NewLine, h.EventApi.Requests.Select(r => $"{r} at {r.ReceivedAt:HH:mm:ss.fff}")));
        var (failed, retry) = FailedAttemptAndItsRetry(h);
        Assert.Equal(429, failed.Status);
        Assert.True(retry.Accepted, retry.ToString());
        var gap = retry.ReceivedAt - failed.ReceivedAt;
        Assert.True(gap >= TimeSpan.FromSeconds(2.9), $"retried {gap.TotalMilliseconds:0} ms after a 429 with Retry-After: 3");
        AssertDeliveredExactlyOnce(h, report, events, messages.Count, extraAttempts: 1);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task Flush_retries_a_500_without_Retry_After_after_the_short_base_delay()
    {
        // The contrast to the 429 test: the same fault without the header is retried after RetryBaseDelay
        // (50 ms plus jitter), so the 1 s wait there came from Retry-After.
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(200, seed: 13);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);
        h.Faults.FailNext(EventApiFault.Status(500, "internal error"));

        var report = await h.FlushAsync();

        output.WriteLine(report.ToText());
        output.WriteLine(string.Join(Environment.NewLine, h.EventApi.Requests.Select(r => $"{r} at {r.ReceivedAt:HH:mm:ss.fff}")));
        var (failed, retry) = FailedAttemptAndItsRetry(h);
        Assert.Equal(500, failed.Status);
        Assert.True(retry.Accepted, retry.ToString());
        var gap = retry.ReceivedAt - failed.ReceivedAt;
        // Far below the 3 s a Retry-After imposes above, with room for a loaded machine.
        Assert.True(gap < TimeSpan.FromSeconds(2.5), $"retried {gap.TotalMilliseconds:0} ms after a 500 with a 50 ms base delay");
        AssertDeliveredExactlyOnce(h, report, events, messages.Count, extraAttempts: 1);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task Flush_retries_a_dropped_connection_and_delivers_everything()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(200, seed: 14);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);
        h.Faults.FailNext(EventApiFault.DropConnection());

        var report = await h.FlushAsync();

        output.WriteLine(report.ToText());
        output.WriteLine(string.Join(Environment.NewLine, h.EventApi.Requests.Select(r => $"{r} at {r.ReceivedAt:HH:mm:ss.fff}")));
        var (failed, retry) = FailedAttemptAndItsRetry(h);
        Assert.Equal(EventApiRequest.NoAnswer, failed.Status);
        Assert.True(retry.Accepted, retry.ToString());
        AssertDeliveredExactlyOnce(h, report, events, messages.Count, extraAttempts: 1);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task Flush_gives_up_an_attempt_that_hangs_past_AttemptTimeout_and_retries_it()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(200, seed: 15);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);
        var hang = TimeSpan.FromSeconds(20);
        h.Faults.FailNext(EventApiFault.Delay(hang)); // would answer 204, far too late

        var report = await h.FlushAsync(new Dictionary<string, string?> { ["BulkDispatch:Optimizely:AttemptTimeout"] = "00:00:01" });

        output.WriteLine(report.ToText());
        output.WriteLine(string.Join(Environment.NewLine, h.EventApi.Requests.Select(r => $"{r} at {r.ReceivedAt:HH:mm:ss.fff}")));
        var (failed, retry) = FailedAttemptAndItsRetry(h);
        Assert.True(retry.Accepted, retry.ToString());
        var gap = retry.ReceivedAt - failed.ReceivedAt;
        Assert.True(gap >= TimeSpan.FromSeconds(0.9), $"the hung attempt was given up after {gap.TotalMilliseconds:0} ms, before AttemptTimeout (1 s)");
        Assert.True(gap < hang / 2, $"the hung attempt was given up only after {gap.TotalSeconds:0.0} s (AttemptTimeout 1 s)");

        // The client closed the connection, so the server never answered the hung attempt.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (failed.Status == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(EventApiRequest.NoAnswer, failed.Status);
        AssertDeliveredExactlyOnce(h, report, events, messages.Count, extraAttempts: 1);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    /// <summary>The one attempt that was not accepted, and the later attempt with the same body.</summary>
    private static (EventApiRequest Failed, EventApiRequest Retry) FailedAttemptAndItsRetry(FlushHarness h)
    {
        var requests = h.EventApi.Requests;
        var failed = Assert.Single(requests, r => !r.Accepted);
        var retry = Assert.Single(requests, r => r.Sequence != failed.Sequence && r.Body.AsSpan().SequenceEqual(failed.Body));
        Assert.True(retry.Sequence > failed.Sequence, $"{retry} came before {failed}");
        return (failed, retry);
    }

    private static void AssertDeliveredExactlyOnce(FlushHarness h, FlushReport report, IReadOnlyList<QueuedEvent> events, int messages, int extraAttempts)
    {
        Assert.True(report.Complete, report.ToText());
        Assert.Equal(FlushStopReason.QueueEmpty, report.StopReason);
        Assert.Equal(0, report.TransientFailures);
        Assert.Empty(report.DeadLettered);
        Assert.Equal(messages, report.MessagesReceived);
        Assert.Equal(messages, report.MessagesDeleted);
        Assert.Equal(events.Count, report.EventsDelivered);
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);

        // Retries are not new requests: the server saw each request once plus the retried attempts.
        Assert.Equal(report.RequestsSent + extraAttempts, h.EventApi.Requests.Count);
        Assert.Equal(report.RequestsSent, report.RequestsAccepted);
    }
}
