using System.Globalization;
using System.Text;
using Amazon.SQS.Model;
using BulkDispatch.Flush.Reporting;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// A run is bounded: by a message count (it stops there, delivers what it took and reports what is left) and by
/// memory (a small buffer slows the run down but never stalls it).
/// </summary>
public sealed class RunBudgetTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task A_backlog_bigger_than_the_message_limit_is_delivered_over_two_runs_and_the_first_reports_what_is_left()
    {
        const int limit = 25;
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(500, seed: 21);
        var messages = FlushHarness.Messages(events, perMessage: 1).ToList();
        Assert.True(messages.Count > 3 * limit, $"only {messages.Count} messages");
        var visitorsByMessage = messages.ToDictionary(m => m, VisitorsOfMessage, StringComparer.Ordinal);
        await h.EnqueueAsync(messages);

        var first = await h.FlushAsync(new Dictionary<string, string?> { ["BulkDispatch:Flush:MaxMessagesPerRun"] = limit.ToString(CultureInfo.InvariantCulture) });

        Assert.InRange(first.MessagesReceived, 1, limit);
        Assert.Equal(first.MessagesReceived, first.MessagesDeleted);
        Assert.Equal(FlushStopReason.MessageLimit, first.StopReason);
        Assert.False(first.QueueDrained);
        Assert.False(first.Complete, first.ToText()); // it delivered all it took, but the queue was not drained
        Assert.Equal(messages.Count - first.MessagesReceived, first.ApproximateMessagesLeft);
        Assert.Equal(messages.Count - first.MessagesReceived, await h.DepthAsync(h.QueueUrl));

        // What the first run delivered is exactly the visitors of the messages it took (and deleted).
        var afterFirst = h.AcceptedVisitors();
        Assert.Equal(first.VisitorsDelivered, afterFirst.Count);
        var left = await h.ReceiveAllAsync(h.QueueUrl);
        Assert.Equal(messages.Count - first.MessagesReceived, left.Count);
        var taken = messages.Except(left.Select(m => m.Body), StringComparer.Ordinal).ToList();
        Assert.Equal(first.MessagesReceived, taken.Count);
        Assert.Equal(Sorted(taken.SelectMany(m => visitorsByMessage[m])), Sorted(afterFirst));

        // Make the rest visible again for the second run (the receive above hid them).
        await ReleaseAsync(h, left);

        var second = await h.FlushAsync();

        Assert.True(second.Complete, second.ToText());
        Assert.Equal(FlushStopReason.QueueEmpty, second.StopReason);
        Assert.True(second.QueueDrained);
        Assert.Equal(messages.Count - first.MessagesReceived, second.MessagesReceived);
        Assert.Equal(0, second.ApproximateMessagesLeft);
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task A_single_receive_loop_stops_at_exactly_the_message_limit()
    {
        const int limit = 23; // not a multiple of 10: the last receive must ask for 3
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(300, seed: 22);
        var messages = FlushHarness.Messages(events, perMessage: 1).ToList();
        await h.EnqueueAsync(messages);

        var first = await h.FlushAsync(new Dictionary<string, string?>
        {
            ["BulkDispatch:Flush:MaxMessagesPerRun"] = limit.ToString(CultureInfo.InvariantCulture),
            ["BulkDispatch:Flush:ReceiveConcurrency"] = "1",
        });

        Assert.Equal(limit, first.MessagesReceived);
        Assert.Equal(limit, first.MessagesDeleted);
        Assert.Equal(FlushStopReason.MessageLimit, first.StopReason);
        Assert.Equal(messages.Count - limit, first.ApproximateMessagesLeft);

        var second = await h.FlushAsync();
        Assert.True(second.Complete, second.ToText());
        Assert.Equal(messages.Count - limit, second.MessagesReceived);
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task A_memory_budget_much_smaller_than_the_backlog_still_drains_the_queue_without_stalling()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(500, seed: 23);
        var messages = DemoEvents.ToMessages(events, maxMessageBytes: 6 * 1024);
        long backlogBytes = messages.Sum(m => (long)Encoding.UTF8.GetByteCount(m));
        Assert.True(backlogBytes > 250_000, $"backlog of only {backlogBytes} bytes");
        await h.EnqueueAsync(messages);

        // A batch linger far beyond the run: only the budget's own rules (send unfinished requests when memory fills)
        // can free room for the receivers; were they missing, receiving would stall until MaxDuration.
        var report = await h.FlushAsync(new Dictionary<string, string?>
        {
            ["BulkDispatch:Flush:MaxRequestBytes"] = "20000",
            ["BulkDispatch:Flush:MaxBufferedBytes"] = "50000",
            ["BulkDispatch:Flush:BatchLinger"] = "00:10:00",
            ["BulkDispatch:Flush:MaxDuration"] = "00:01:00",
        });

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(FlushStopReason.QueueEmpty, report.StopReason);
        Assert.Equal(messages.Count, report.MessagesReceived);
        Assert.Equal(messages.Count, report.MessagesDeleted);
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.All(h.EventApi.Requests, r => Assert.True(r.Body.Length <= 20_000, $"a request of {r.Body.Length} bytes"));
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    private static async Task ReleaseAsync(FlushHarness h, List<Message> messages)
    {
        foreach (var chunk in messages.Chunk(10))
        {
            await h.Sqs.ChangeMessageVisibilityBatchAsync(new ChangeMessageVisibilityBatchRequest
            {
                QueueUrl = h.QueueUrl,
                Entries = chunk.Select((m, i) => new ChangeMessageVisibilityBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.ReceiptHandle) { VisibilityTimeout = 0 }).ToList(),
            });
        }
    }
}
