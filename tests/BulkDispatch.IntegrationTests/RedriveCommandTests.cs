using System.Text.Json;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using static BulkDispatch.IntegrationTests.Infrastructure.QueueCommandSupport;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// <c>bulkdispatch redrive</c> through the real process against the emulator (which has no StartMessageMoveTask, so
/// the receive-send-delete path runs): each selected message moves exactly once, the rest stay visible in the
/// dead-letter queue, and after the cause is fixed a flush delivers what was moved.
/// </summary>
public sealed class RedriveCommandTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Redrive_by_reason_moves_exactly_those_a_flush_then_delivers_them_and_a_redrive_without_filter_moves_the_rest()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var unknown = UnknownVersionMessages(3, "redrive");
        var (evil, evilEvents) = EvilMessages(4, seed: 71);
        await h.EnqueueAsync([.. unknown, .. evil]);
        var report = await h.FlushAsync();
        Assert.Equal(7, report.DeadLettered.Values.Sum());
        var dead = await PeekAsync(h, h.DeadLetterQueueUrl);
        var evilBodies = Bodies(dead.Where(m => FlushHarness.Reason(m) == DeadLetterReason.EndpointNotAllowed));
        var unknownBodies = Bodies(dead.Where(m => FlushHarness.Reason(m) == DeadLetterReason.UnknownVersion));
        Assert.Equal(4, evilBodies.Count);
        Assert.Equal(Sorted(unknown), unknownBodies);

        // 1. Only the endpoint-not-allowed messages move.
        using var dir = new TempDirectory();
        var filtered = await RunAsync(h, dir.Path, "redrive", "--reason", DeadLetterReason.EndpointNotAllowed, "--json");
        Assert.True(filtered.ExitCode == 0, filtered.ToString());
        using (var doc = JsonDocument.Parse(filtered.Stdout))
        {
            var r = doc.RootElement;
            Assert.Equal("receive-send-delete", r.GetProperty("method").GetString());
            Assert.Equal(4, r.GetProperty("moved").GetInt64());
            Assert.Equal(3, r.GetProperty("skipped").GetInt64());
            Assert.Equal(0, r.GetProperty("failed").GetInt64());
            Assert.Equal(0, r.GetProperty("sentButNotDeleted").GetInt64());
            Assert.True(r.GetProperty("complete").GetBoolean());
            Assert.Equal(Counts((DeadLetterReason.EndpointNotAllowed, 4)), Counts(r.GetProperty("movedByReason")));
            Assert.Equal(Counts((DeadLetterReason.UnknownVersion, 3)), Counts(r.GetProperty("skippedByReason")));
        }

        Assert.Contains("receive, send, delete", filtered.Stderr, StringComparison.Ordinal);

        // The main queue holds exactly those bodies, unchanged and without the dead-letter attributes; the
        // dead-letter queue exactly the others, all receivable at once (the skipped ones were not left hidden).
        var main = await PeekAsync(h, h.QueueUrl);
        Assert.Equal(evilBodies, Bodies(main));
        Assert.All(main, m => Assert.True(m.MessageAttributes is null or { Count: 0 }, "the dead-letter attributes were sent back"));
        Assert.Equal(unknownBodies, Bodies(await PeekAsync(h, h.DeadLetterQueueUrl)));

        // 2. The cause is fixed (the endpoint is allowed now): a flush delivers every visitor of those events.
        var fixedReport = await h.FlushAsync(new Dictionary<string, string?> { ["BulkDispatch:Optimizely:AllowedEndpoints"] = EvilUrl });
        Assert.True(fixedReport.Complete, fixedReport.ToText());
        Assert.Equal(4, fixedReport.EventsDelivered);
        Assert.Empty(fixedReport.DeadLettered);
        Assert.Equal(Sorted(VisitorsOf(evilEvents)), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));

        // 3. A redrive without a filter moves the rest, after trying SQS's message-move task, which fauxqs lacks.
        var rest = await RunAsync(h, dir.Path, "redrive", "--json");
        Assert.True(rest.ExitCode == 0, rest.ToString());
        using (var doc = JsonDocument.Parse(rest.Stdout))
        {
            var r = doc.RootElement;
            Assert.Equal("receive-send-delete", r.GetProperty("method").GetString());
            Assert.Contains("StartMessageMoveTask", r.GetProperty("methodNote").GetString(), StringComparison.Ordinal);
            Assert.Equal(3, r.GetProperty("moved").GetInt64());
            Assert.Equal(0, r.GetProperty("skipped").GetInt64());
            Assert.Equal(0, r.GetProperty("failed").GetInt64());
        }

        Assert.Contains("does not support StartMessageMoveTask", rest.Stderr, StringComparison.Ordinal);
        Assert.Equal(unknownBodies, Bodies(await PeekAsync(h, h.QueueUrl)));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task Max_limits_the_move_and_every_message_is_in_exactly_one_queue_afterwards()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var a = await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 8, "a", new() { ["Trace.Id"] = "keep-me" });
        var b = await DeadLetterDirectlyAsync(h, DeadLetterReason.LegacySettingsMissing, 4, "b");
        using var dir = new TempDirectory();

        var first = await RunAsync(h, dir.Path, "redrive", "--max", "5");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Matches(@"Moved 5 \(.*\), skipped 0 because the reason did not match, failed 0\.", first.Stdout);
        Assert.DoesNotContain("\r", first.Stdout + first.Stderr, StringComparison.Ordinal); // redirected: plain lines

        var main = await PeekAsync(h, h.QueueUrl);
        var dlq = await PeekAsync(h, h.DeadLetterQueueUrl);
        Assert.Equal(5, main.Count);
        Assert.Equal(7, dlq.Count);
        Assert.Equal(Sorted([.. a, .. b]), Sorted(main.Concat(dlq).Select(m => m.Body)));

        // Other attributes travel with the message; the reason and detail do not.
        Assert.All(main.Where(m => a.Contains(m.Body)), m =>
        {
            Assert.Equal("keep-me", m.MessageAttributes["Trace.Id"].StringValue);
            Assert.False(m.MessageAttributes.ContainsKey(WireFormat.ReasonAttribute));
            Assert.False(m.MessageAttributes.ContainsKey(WireFormat.DetailAttribute));
        });

        // --max with --reason: at most 2 of the legacy-settings-missing ones that are still dead-lettered.
        int legacyLeft = dlq.Count(m => FlushHarness.Reason(m) == DeadLetterReason.LegacySettingsMissing);
        var second = await RunAsync(h, dir.Path, "redrive", "--reason", DeadLetterReason.LegacySettingsMissing, "--max", "2", "--json");
        Assert.True(second.ExitCode == 0, second.ToString());
        using (var doc = JsonDocument.Parse(second.Stdout))
        {
            Assert.Equal(Math.Min(2, legacyLeft), doc.RootElement.GetProperty("moved").GetInt64());
            Assert.Equal(Counts((DeadLetterReason.LegacySettingsMissing, Math.Min(2, legacyLeft))), Counts(doc.RootElement.GetProperty("movedByReason")));
        }

        var main2 = await PeekAsync(h, h.QueueUrl);
        var dlq2 = await PeekAsync(h, h.DeadLetterQueueUrl);
        Assert.Equal(5 + Math.Min(2, legacyLeft), main2.Count);
        Assert.Equal(Sorted([.. a, .. b]), Sorted(main2.Concat(dlq2).Select(m => m.Body)));
        Assert.Equal(legacyLeft - Math.Min(2, legacyLeft), dlq2.Count(m => FlushHarness.Reason(m) == DeadLetterReason.LegacySettingsMissing));
    }

    [Fact]
    public async Task Messages_the_queue_refuses_are_reported_and_stay_in_the_dead_letter_queue_visible()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var small = await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 3, "small");
        var large = await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 2, "large", padding: 1500);
        await h.Sqs.SetQueueAttributesAsync(new SetQueueAttributesRequest
        {
            QueueUrl = h.QueueUrl,
            Attributes = new Dictionary<string, string> { ["MaximumMessageSize"] = "1024" },
        });
        var largeIds = (await PeekAsync(h, h.DeadLetterQueueUrl)).Where(m => large.Contains(m.Body)).Select(m => m.MessageId).ToList();
        using var dir = new TempDirectory();

        var result = await RunAsync(h, dir.Path, "redrive");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("Moved 3 (unknown-version 3), skipped 0 because the reason did not match, failed 2.", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Not moved (still in the dead-letter queue):", result.Stdout, StringComparison.Ordinal);
        Assert.All(largeIds, id => Assert.Contains(id, result.Stdout, StringComparison.Ordinal));
        Assert.Equal(Sorted(small), Bodies(await PeekAsync(h, h.QueueUrl)));
        Assert.Equal(Sorted(large), Bodies(await h.ReceiveAllAsync(h.DeadLetterQueueUrl)));
    }

    [Fact]
    public async Task A_dry_run_counts_what_would_move_and_moves_nothing()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var a = await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 8, "a");
        var b = await DeadLetterDirectlyAsync(h, DeadLetterReason.EndpointNotAllowed, 4, "b");
        using var dir = new TempDirectory();

        var filtered = await RunAsync(h, dir.Path, "redrive", "--dry-run", "--reason", DeadLetterReason.EndpointNotAllowed, "--json");
        Assert.True(filtered.ExitCode == 0, filtered.ToString());
        using (var doc = JsonDocument.Parse(filtered.Stdout))
        {
            var r = doc.RootElement;
            Assert.True(r.GetProperty("dryRun").GetBoolean());
            Assert.Equal(4, r.GetProperty("wouldMove").GetInt64());
            Assert.Equal(8, r.GetProperty("skipped").GetInt64());
            Assert.Equal(0, r.GetProperty("moved").GetInt64());
            Assert.False(r.GetProperty("sample").GetBoolean());
        }

        var limited = await RunAsync(h, dir.Path, "redrive", "--dry-run", "--max", "3");
        Assert.True(limited.ExitCode == 0, limited.ToString());
        Assert.Contains("Dry run: would move 3", limited.Stdout, StringComparison.Ordinal);
        Assert.Contains("Nothing was moved.", limited.Stdout, StringComparison.Ordinal);

        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(Sorted([.. a, .. b]), Bodies(await h.ReceiveAllAsync(h.DeadLetterQueueUrl)));
    }

    [Fact]
    public async Task Without_a_dead_letter_queue_or_with_a_bad_option_it_exits_2_and_moves_nothing()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string plain = await fixture.Emulator.CreateQueueAsync("plain-" + Guid.NewGuid().ToString("N")[..8]);
        await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 2, "a");
        using var dir = new TempDirectory();

        var noDlq = await CliProcess.RunAsync(dir.Path, "redrive", "--set", $"BulkDispatch__Sqs__QueueUrl={plain}", "--set", $"BulkDispatch__Sqs__ServiceUrl={fixture.Emulator.ServiceUrl}");
        Assert.True(noDlq.ExitCode == 2, noDlq.ToString());
        Assert.Contains("BulkDispatch__Sqs__DeadLetterQueueUrl", noDlq.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was moved", noDlq.Stderr, StringComparison.Ordinal);

        var badUrl = await RunAsync(h, dir.Path, "redrive", "--set", "BulkDispatch__Sqs__DeadLetterQueueUrl=not a url");
        Assert.True(badUrl.ExitCode == 2, badUrl.ToString());
        Assert.Contains("BulkDispatch__Sqs__DeadLetterQueueUrl", badUrl.Stderr, StringComparison.Ordinal);

        var badMax = await RunAsync(h, dir.Path, "redrive", "--max", "0");
        Assert.True(badMax.ExitCode == 2, badMax.ToString());
        Assert.Contains("--max", badMax.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(2, (await h.ReceiveAllAsync(h.DeadLetterQueueUrl)).Count);
    }
}
