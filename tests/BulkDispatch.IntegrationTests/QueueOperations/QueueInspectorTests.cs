using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.QueueOperations;
using BulkDispatch.QueueOperations.Statistics;
using Microsoft.Extensions.DependencyInjection;
using static BulkDispatch.IntegrationTests.Infrastructure.QueueCommandSupport;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests.QueueOperations;

/// <summary><see cref="QueueInspector"/> as a host uses it, against the emulator: exact counts and reasons, nothing consumed.</summary>
public sealed class QueueInspectorTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Both_queues_are_read_and_the_reasons_counted_without_consuming_anything()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator, maxReceiveCount: 4);
        var unknown = await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 12, "u");
        var none = await DeadLetterDirectlyAsync(h, reason: null, 3, "n");
        await h.EnqueueAsync(["a", "b", "c", "d", "e"]);
        await HoldAsync(h, h.QueueUrl, 2);
        await using var services = QueueOperationsHost.Create(h);
        var inspector = services.GetRequiredService<QueueInspector>();

        var first = await inspector.InspectAsync();

        Assert.Equal((3L, 2L, 0L), (first.Queue.Visible, first.Queue.InFlight, first.Queue.Delayed));
        Assert.Equal(4, first.Queue.RedrivePolicy?.MaxReceiveCount);
        Assert.Equal(await ArnAsync(h, h.DeadLetterQueueUrl), first.Queue.RedrivePolicy?.DeadLetterTargetArn);
        Assert.Equal(DeadLetterQueueSource.RedrivePolicy, first.DeadLetterQueueSource);
        var dlq = Assert.IsType<QueueStatistics>(first.DeadLetterQueue);
        Assert.Equal(h.DeadLetterQueueUrl, dlq.Url);
        Assert.Equal(15, dlq.Visible);
        var reasons = Assert.IsType<ReasonSample>(dlq.Reasons);
        Assert.Equal((15L, false), (reasons.Examined, reasons.Sample));
        Assert.Equal(Counts((DeadLetterReason.UnknownVersion, 12), (DeadLetterReasons.NoReason, 3)), new SortedDictionary<string, long>(reasons.Counts.ToDictionary(), StringComparer.Ordinal));

        // Looking again sees the same: the peek hid nothing.
        var second = await inspector.InspectAsync();
        Assert.Equal(reasons.Counts, second.DeadLetterQueue!.Reasons!.Counts);
        Assert.Equal(Sorted([.. unknown, .. none]), Bodies(await h.ReceiveAllAsync(h.DeadLetterQueueUrl)));
    }

    [Fact]
    public async Task The_dead_letter_queue_setting_wins_over_the_redrive_policy_and_a_small_limit_gives_a_sample()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string other = await fixture.Emulator.CreateQueueAsync("other-dlq-" + Guid.NewGuid().ToString("N")[..8]);
        for (int i = 0; i < 7; i++)
        {
            await h.Sqs.SendMessageAsync(new SendMessageRequest { QueueUrl = other, MessageBody = $"m{i}" });
        }

        await using var services = QueueOperationsHost.Create(h, new Dictionary<string, string?> { ["BulkDispatch:Sqs:DeadLetterQueueUrl"] = other });

        var overview = await services.GetRequiredService<QueueInspector>().InspectAsync(reasonSampleLimit: 5);

        Assert.Equal(DeadLetterQueueSource.Setting, overview.DeadLetterQueueSource);
        Assert.Equal(other, overview.DeadLetterQueue!.Url);
        var reasons = overview.DeadLetterQueue.Reasons!;
        Assert.Equal((5L, true, 5), (reasons.Examined, reasons.Sample, reasons.Limit));
        Assert.Equal(5, reasons.Counts[DeadLetterReasons.NoReason]);
        Assert.Equal(7, (await h.ReceiveAllAsync(other)).Count);
    }
}
