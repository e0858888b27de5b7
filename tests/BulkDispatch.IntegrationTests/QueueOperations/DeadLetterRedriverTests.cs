using Amazon.SQS;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.QueueOperations;
using BulkDispatch.QueueOperations.Redrive;
using Microsoft.Extensions.DependencyInjection;
using static BulkDispatch.IntegrationTests.Infrastructure.QueueCommandSupport;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests.QueueOperations;

/// <summary><see cref="DeadLetterRedriver"/> as a host uses it, against the emulator (with a move task added in front where a test needs one).</summary>
public sealed class DeadLetterRedriverTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Where_the_endpoint_has_the_message_move_task_a_redrive_of_everything_uses_it_and_a_filtered_one_does_not()
    {
        // fauxqs has no StartMessageMoveTask; this client adds one (moving as SQS does) in front of the emulator.
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var a = await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 6, "a");
        var b = await DeadLetterDirectlyAsync(h, DeadLetterReason.EndpointNotAllowed, 2, "b");
        var (sqs, fake) = MoveTaskSqs.Wrap(fixture.Emulator.CreateClient());
        await using var services = QueueOperationsHost.Create(h, client: sqs);
        var redriver = services.GetRequiredService<DeadLetterRedriver>();
        var notes = new List<string>();

        var filtered = await redriver.RedriveAsync(new RedriveOptions { Reasons = [DeadLetterReason.EndpointNotAllowed], Notes = notes.Add });
        Assert.Equal(RedriveMethod.ReceiveSendDelete, filtered.Method);
        Assert.Equal((2, 6), (filtered.Moved, filtered.Skipped));
        Assert.DoesNotContain(nameof(IAmazonSQS.StartMessageMoveTaskAsync), fake.Calls);

        var all = await redriver.RedriveAsync(new RedriveOptions { Notes = notes.Add });
        Assert.Equal(RedriveMethod.MessageMoveTask, all.Method);
        Assert.Equal(6, all.Moved);
        Assert.True(all.Complete);
        Assert.Contains(nameof(IAmazonSQS.StartMessageMoveTaskAsync), fake.Calls);
        Assert.Contains(notes, n => n.Contains("message-move task (StartMessageMoveTask", StringComparison.Ordinal));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
        Assert.Equal(Sorted([.. a, .. b]), Bodies(await PeekAsync(h, h.QueueUrl)));
    }

    [Fact]
    public async Task Without_the_move_task_it_falls_back_says_why_and_reports_progress_that_ends_at_the_result()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var a = await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 23, "a");
        await using var services = QueueOperationsHost.Create(h);
        var progress = new List<RedriveProgress>();
        var notes = new List<string>();

        var result = await services.GetRequiredService<DeadLetterRedriver>().RedriveAsync(new RedriveOptions { Progress = progress.Add, Notes = notes.Add });

        Assert.Equal(RedriveMethod.ReceiveSendDelete, result.Method);
        Assert.Equal("the endpoint does not support StartMessageMoveTask (InvalidAction)", result.MethodNote);
        Assert.Contains("Moving with receive, send, delete: the endpoint does not support StartMessageMoveTask (InvalidAction).", notes);
        Assert.Equal((23L, 0L, 0L, true), (result.Moved, result.Failed, result.SentButNotDeleted, result.Complete));
        Assert.NotEmpty(progress);
        Assert.All(progress, p => Assert.Equal(RedriveMethod.ReceiveSendDelete, p.Method));
        Assert.Equal(progress.Select(p => p.Moved).Order(), progress.Select(p => p.Moved)); // never goes back
        Assert.Equal((result.Moved, result.Skipped, result.Failed), (progress[^1].Moved, progress[^1].Skipped, progress[^1].Failed));
        Assert.Equal(Sorted(a), Bodies(await PeekAsync(h, h.QueueUrl)));
    }

    [Fact]
    public async Task None_selects_the_messages_sqs_moved_itself_and_max_stops_the_move()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var tagged = await DeadLetterDirectlyAsync(h, DeadLetterReason.InvalidEvent, 4, "t");
        var untagged = await DeadLetterDirectlyAsync(h, reason: null, 5, "u");
        await using var services = QueueOperationsHost.Create(h);
        var redriver = services.GetRequiredService<DeadLetterRedriver>();

        var result = await redriver.RedriveAsync(new RedriveOptions { Reasons = [DeadLetterReasons.NoReason], Max = 3 });

        Assert.Equal(3, result.Moved);
        Assert.Equal(new Dictionary<string, long> { [DeadLetterReasons.NoReason] = 3 }, result.MovedByReason);
        Assert.Equal(4, result.SkippedByReason.GetValueOrDefault(DeadLetterReason.InvalidEvent));
        var moved = Bodies(await PeekAsync(h, h.QueueUrl));
        Assert.Equal(3, moved.Count);
        Assert.All(moved, body => Assert.Contains(body, untagged));
        Assert.Equal(Sorted([.. tagged, .. untagged]), Sorted([.. moved, .. Bodies(await h.ReceiveAllAsync(h.DeadLetterQueueUrl))]));
    }

    [Fact]
    public async Task A_stop_finishes_the_batch_in_hand_and_leaves_the_rest_in_the_dead_letter_queue()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var all = await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 30, "a");
        await using var services = QueueOperationsHost.Create(h);
        using var stop = new CancellationTokenSource();

        // Stopped right after the first batch was moved.
        var result = await services.GetRequiredService<DeadLetterRedriver>().RedriveAsync(
            new RedriveOptions { Reasons = [DeadLetterReason.UnknownVersion], Progress = p => stop.Cancel() }, stop.Token);

        Assert.True(result.Cancelled);
        Assert.False(result.Complete);
        Assert.InRange(result.Moved, 1, 10);
        var main = Bodies(await PeekAsync(h, h.QueueUrl));
        var left = Bodies(await h.ReceiveAllAsync(h.DeadLetterQueueUrl));
        Assert.Equal(result.Moved, main.Count);
        Assert.Equal(Sorted(all), Sorted([.. main, .. left])); // each message in exactly one queue
    }

    [Fact]
    public async Task A_dry_run_counts_by_reason_and_moves_nothing()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 6, "a");
        await DeadLetterDirectlyAsync(h, DeadLetterReason.LegacySettingsMissing, 3, "b");
        await using var services = QueueOperationsHost.Create(h);

        var result = await services.GetRequiredService<DeadLetterRedriver>().RedriveAsync(new RedriveOptions { DryRun = true, Max = 7 });

        Assert.Equal((RedriveMethod.Peek, true, 0L, 7L, 0L), (result.Method, result.DryRun, result.Moved, result.WouldMove, result.Skipped));
        // In code order: legacy-settings-missing 3, then unknown-version up to the maximum.
        Assert.Equal(new Dictionary<string, long> { [DeadLetterReason.LegacySettingsMissing] = 3, [DeadLetterReason.UnknownVersion] = 4 }, result.MovedByReason);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(9, (await h.ReceiveAllAsync(h.DeadLetterQueueUrl)).Count);
    }

    [Fact]
    public async Task Without_a_dead_letter_queue_it_throws_a_configuration_error_naming_the_setting()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string plain = await fixture.Emulator.CreateQueueAsync("plain-" + Guid.NewGuid().ToString("N")[..8]);
        await using var services = QueueOperationsHost.Create(h, new Dictionary<string, string?> { ["BulkDispatch:Sqs:QueueUrl"] = plain });

        var error = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => services.GetRequiredService<DeadLetterRedriver>().RedriveAsync());

        Assert.Contains("BulkDispatch__Sqs__DeadLetterQueueUrl: not set", error.Message, StringComparison.Ordinal);
        Assert.Contains(plain, error.Message, StringComparison.Ordinal);
    }
}
