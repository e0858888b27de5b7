using System.Text.Json;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using static BulkDispatch.IntegrationTests.Infrastructure.QueueCommandSupport;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// <c>bulkdispatch stats</c> through the real process against the emulator: the counts match what the queues hold,
/// the dead-letter reasons are counted exactly, and looking consumes nothing.
/// </summary>
public sealed class StatsCommandTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Counts_match_the_queues_and_the_reasons_are_exact_and_stats_consumes_nothing()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator, maxReceiveCount: 7);

        // Dead-letter 3 unknown-version messages and 5 events for a disallowed endpoint with a real flush.
        var unknown = UnknownVersionMessages(3, "stats");
        var (evil, _) = EvilMessages(5, seed: 61);
        await h.EnqueueAsync([.. unknown, .. evil]);
        var report = await h.FlushAsync();
        Assert.Equal(
            Counts((DeadLetterReason.EndpointNotAllowed, 5), (DeadLetterReason.UnknownVersion, 3)),
            new SortedDictionary<string, long>(report.DeadLettered.ToDictionary(), StringComparer.Ordinal));

        // The main queue: 23 published, 7 of them received and not deleted (in flight), and 2 delayed.
        const int published = 23, held = 7;
        await h.EnqueueAsync(FlushHarness.Messages(DemoEvents.Generate(200, seed: 62), perMessage: 1).Take(published));
        await HoldAsync(h, h.QueueUrl, held);
        foreach (var i in new[] { 1, 2 })
        {
            await h.Sqs.SendMessageAsync(new SendMessageRequest { QueueUrl = h.QueueUrl, MessageBody = $$"""{"delayed":{{i}}}""", DelaySeconds = 600 });
        }

        using var dir = new TempDirectory();
        var first = await RunAsync(h, dir.Path, "stats", "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        using (var doc = JsonDocument.Parse(first.Stdout))
        {
            var queue = doc.RootElement.GetProperty("queue");
            Assert.Equal(h.QueueUrl, queue.GetProperty("url").GetString());
            Assert.Equal(published - held, queue.GetProperty("visible").GetInt64());
            Assert.Equal(held, queue.GetProperty("inFlight").GetInt64());
            Assert.Equal(2, queue.GetProperty("delayed").GetInt64());
            Assert.Equal(345_600, queue.GetProperty("retentionSeconds").GetInt64());
            Assert.Equal(30, queue.GetProperty("visibilityTimeoutSeconds").GetInt32());
            Assert.Equal(1_048_576, queue.GetProperty("maximumMessageSize").GetInt32());
            var policy = queue.GetProperty("redrivePolicy");
            Assert.Equal(await ArnAsync(h, h.DeadLetterQueueUrl), policy.GetProperty("deadLetterTargetArn").GetString());
            Assert.Equal(7, policy.GetProperty("maxReceiveCount").GetInt32());

            Assert.Equal("redrivePolicy", doc.RootElement.GetProperty("deadLetterQueueSource").GetString());
            var dlq = doc.RootElement.GetProperty("deadLetterQueue");
            Assert.Equal(h.DeadLetterQueueUrl, dlq.GetProperty("url").GetString());
            Assert.Equal(8, dlq.GetProperty("visible").GetInt64());
            Assert.Equal(0, dlq.GetProperty("inFlight").GetInt64());
            Assert.Equal(0, dlq.GetProperty("delayed").GetInt64());
            Assert.Equal(JsonValueKind.Null, dlq.GetProperty("redrivePolicy").ValueKind);
            var reasons = dlq.GetProperty("reasons");
            Assert.Equal(8, reasons.GetProperty("examined").GetInt64());
            Assert.False(reasons.GetProperty("sample").GetBoolean());
            Assert.Equal(
                Counts((DeadLetterReason.EndpointNotAllowed, 5), (DeadLetterReason.UnknownVersion, 3)),
                Counts(reasons.GetProperty("counts")));
        }

        // Looking again gives the same answer: nothing was consumed or hidden.
        var second = await RunAsync(h, dir.Path, "stats", "--json");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(first.Stdout, second.Stdout);

        var text = await RunAsync(h, dir.Path, "stats");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("Dead-letter reasons, all 8 messages:", text.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^in flight\s+7\s+0\s*$", text.Stdout);
        Assert.Matches(@"(?m)^visible\s+16\s+8\s*$", text.Stdout);
        Assert.Matches(@"(?m)^\s+endpoint-not-allowed\s+5\s*$", text.Stdout);
        Assert.Matches(@"(?m)^\s+unknown-version\s+3\s*$", text.Stdout);
        Assert.Contains("after 7 receives", text.Stdout, StringComparison.Ordinal);

        // The dead-letter messages are all still there and receivable at once, with their reasons.
        var dead = await h.ReceiveAllAsync(h.DeadLetterQueueUrl);
        Assert.Equal(
            Sorted([.. Enumerable.Repeat(DeadLetterReason.EndpointNotAllowed, 5), .. Enumerable.Repeat(DeadLetterReason.UnknownVersion, 3)]),
            Sorted(dead.Select(FlushHarness.Reason)));
        Assert.Equal(Sorted(unknown), Sorted(dead.Where(m => FlushHarness.Reason(m) == DeadLetterReason.UnknownVersion).Select(m => m.Body)));
        Assert.Equal(published - held, (await h.ReceiveAllAsync(h.QueueUrl)).Count);
    }

    [Fact]
    public async Task A_sample_smaller_than_the_dead_letter_queue_is_reported_as_a_sample()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await DeadLetterDirectlyAsync(h, DeadLetterReason.UnknownVersion, 15, "a");
        await DeadLetterDirectlyAsync(h, DeadLetterReason.EndpointNotAllowed, 10, "b");
        await DeadLetterDirectlyAsync(h, reason: null, 3, "c"); // as SQS moves them after maxReceiveCount

        using var dir = new TempDirectory();
        var sampled = await RunAsync(h, dir.Path, "stats", "--json", "--sample", "10");
        Assert.True(sampled.ExitCode == 0, sampled.ToString());
        using (var doc = JsonDocument.Parse(sampled.Stdout))
        {
            var reasons = doc.RootElement.GetProperty("deadLetterQueue").GetProperty("reasons");
            Assert.Equal(10, reasons.GetProperty("examined").GetInt64());
            Assert.True(reasons.GetProperty("sample").GetBoolean());
            Assert.Equal(10, Counts(reasons.GetProperty("counts")).Values.Sum());
        }

        var text = await RunAsync(h, dir.Path, "stats", "--sample", "10");
        Assert.Contains("a SAMPLE of 10 of about 28 messages", text.Stdout, StringComparison.Ordinal);

        var full = await RunAsync(h, dir.Path, "stats", "--json");
        using (var doc = JsonDocument.Parse(full.Stdout))
        {
            var reasons = doc.RootElement.GetProperty("deadLetterQueue").GetProperty("reasons");
            Assert.False(reasons.GetProperty("sample").GetBoolean());
            Assert.Equal(
                Counts((DeadLetterReason.UnknownVersion, 15), (DeadLetterReason.EndpointNotAllowed, 10), ("none", 3)),
                Counts(reasons.GetProperty("counts")));
        }

        Assert.Equal(28, (await h.ReceiveAllAsync(h.DeadLetterQueueUrl)).Count);
    }

    [Fact]
    public async Task A_queue_without_a_dead_letter_queue_is_shown_and_says_so()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string plain = await fixture.Emulator.CreateQueueAsync("plain-" + Guid.NewGuid().ToString("N")[..8]);
        using var dir = new TempDirectory();

        var json = await CliProcess.RunAsync(dir.Path, "stats", "--json", "--set", $"BulkDispatch__Sqs__QueueUrl={plain}", "--set", $"BulkDispatch__Sqs__ServiceUrl={fixture.Emulator.ServiceUrl}");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("deadLetterQueue").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("queue").GetProperty("redrivePolicy").ValueKind);

        var text = await CliProcess.RunAsync(dir.Path, "stats", "--set", $"BulkDispatch__Sqs__QueueUrl={plain}", "--set", $"BulkDispatch__Sqs__ServiceUrl={fixture.Emulator.ServiceUrl}");
        Assert.Contains("No dead-letter queue", text.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("BulkDispatch__Sqs__QueueUrl", "not a url", "BulkDispatch__Sqs__QueueUrl")]
    [InlineData("BulkDispatch__Sqs__DeadLetterQueueUrl", "ftp://example.com/dlq", "BulkDispatch__Sqs__DeadLetterQueueUrl")]
    [InlineData("BulkDispatch__Sqs__QueueName", "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/q/)", "Key Vault reference did not resolve")]
    [InlineData("BulkDispatch__Sqs__Region", "mars-north-1", "BulkDispatch__Sqs__Region")]
    public async Task A_bad_setting_exits_2_naming_it(string name, string value, string expected)
    {
        using var dir = new TempDirectory();
        var result = await CliProcess.RunAsync(dir.Path, "stats", "--set", $"{name}={value}", "--set", $"BulkDispatch__Sqs__ServiceUrl={fixture.Emulator.ServiceUrl}");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(name, result.Stderr, StringComparison.Ordinal);
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task A_missing_queue_or_dead_letter_queue_or_a_bad_sample_exits_2_naming_it()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        using var dir = new TempDirectory();
        string prefix = h.QueueUrl[..(h.QueueUrl.LastIndexOf('/') + 1)];

        var queue = await CliProcess.RunAsync(dir.Path, "stats", "--set", $"BulkDispatch__Sqs__QueueUrl={prefix}no-such-queue", "--set", $"BulkDispatch__Sqs__ServiceUrl={fixture.Emulator.ServiceUrl}");
        Assert.True(queue.ExitCode == 2, queue.ToString());
        Assert.Contains("BulkDispatch__Sqs__QueueUrl", queue.Stderr, StringComparison.Ordinal);
        Assert.Contains("does not exist", queue.Stderr, StringComparison.Ordinal);

        var dlq = await RunAsync(h, dir.Path, "stats", "--set", $"BulkDispatch__Sqs__DeadLetterQueueUrl={prefix}no-such-dlq");
        Assert.True(dlq.ExitCode == 2, dlq.ToString());
        Assert.Contains("BulkDispatch__Sqs__DeadLetterQueueUrl", dlq.Stderr, StringComparison.Ordinal);
        Assert.Contains("does not exist", dlq.Stderr, StringComparison.Ordinal);

        var sample = await RunAsync(h, dir.Path, "stats", "--sample", "0");
        Assert.True(sample.ExitCode == 2, sample.ToString());
        Assert.Contains("--sample", sample.Stderr, StringComparison.Ordinal);

        var file = await CliProcess.RunAsync(dir.Path, "stats", "--settings", Path.Combine(dir.Path, "missing.json"));
        Assert.True(file.ExitCode == 2, file.ToString());
        Assert.Contains("--settings", file.Stderr, StringComparison.Ordinal);
    }
}
