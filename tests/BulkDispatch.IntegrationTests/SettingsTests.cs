using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Amazon.SQS.Model;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// The user-facing contract of <c>bulkdispatch flush</c>, through the real process: bad settings stop the run before
/// anything is received (exit 2, the setting named on stderr), a good run's report matches what the Event API got,
/// and a dry run sends and deletes nothing.
/// </summary>
public sealed partial class SettingsTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private const int Enqueued = 12;

    public static TheoryData<string, string, string> BadSettings => new()
    {
        { "BulkDispatch__Flush__MaxDuration", "abc", "Example: 00:04:00" },
        { "BulkDispatch__Flush__ReceiveConcurrency", "0", "Example: 8" },
        { "BulkDispatch__Flush__MaxRequestBytes", "99999999", "Example: 3000000" },
        { "BulkDispatch__Sqs__QueueUrl", "sqs.us-west-2.amazonaws.com/123456789012/event-queue", "Example: https://" },
        { "BulkDispatch__Sqs__QueueName", "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/queue-name/)", "Key Vault reference did not resolve" },
        { "BulkDispatch__Optimizely__EndpointOverride", "@Microsoft.KeyVault(VaultName=myvault;SecretName=endpoint)", "Key Vault reference did not resolve" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task A_bad_setting_exits_2_naming_it_before_anything_is_received(string name, string value, string hint)
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await h.EnqueueAsync(FlushHarness.Messages(DemoEvents.Generate(200, seed: 41), perMessage: 1).Take(Enqueued));
        using var dir = new TempDirectory();
        var values = GoodValues(h);
        values[name] = value;

        var result = await CliProcess.RunAsync(dir.Path, "flush", "--settings", dir.Write("local.settings.json", Settings(values)));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(name, result.Stderr, StringComparison.Ordinal);
        Assert.Contains(hint, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was received", result.Stderr, StringComparison.Ordinal);
        await AssertUntouchedAsync(h);
    }

    [Fact]
    public async Task Several_bad_settings_from_the_file_and_from_set_are_all_listed_at_once()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await h.EnqueueAsync(FlushHarness.Messages(DemoEvents.Generate(200, seed: 42), perMessage: 1).Take(Enqueued));
        using var dir = new TempDirectory();
        var values = GoodValues(h);
        values["BulkDispatch__Flush__MaxDuration"] = "abc";
        values["BulkDispatch__Flush__ReceiveConcurrency"] = "0";
        values["BulkDispatch__Sqs__QueueName"] = "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/queue-name/)";

        var result = await CliProcess.RunAsync(
            dir.Path,
            "flush",
            "--settings", dir.Write("local.settings.json", Settings(values)),
            "--set", "BulkDispatch__Flush__MaxRequestBytes=99999999",
            "--set", "BulkDispatch__Sqs__QueueUrl=not a url",
            "--set", "BulkDispatch__Optimizely__EndpointOverride=ftp://example.com/events");

        Assert.True(result.ExitCode == 2, result.ToString());
        foreach (var name in new[]
        {
            "BulkDispatch__Flush__MaxDuration", "BulkDispatch__Flush__ReceiveConcurrency", "BulkDispatch__Flush__MaxRequestBytes",
            "BulkDispatch__Sqs__QueueUrl", "BulkDispatch__Sqs__QueueName", "BulkDispatch__Optimizely__EndpointOverride",
        })
        {
            Assert.True(result.Stderr.Contains(name, StringComparison.Ordinal), $"{name} is not named.{Environment.NewLine}{result}");
        }

        await AssertUntouchedAsync(h);
    }

    [Fact]
    public async Task A_missing_settings_file_exits_2_naming_the_file()
    {
        using var dir = new TempDirectory();
        string missing = Path.Combine(dir.Path, "no-such.settings.json");

        var result = await CliProcess.RunAsync(dir.Path, "flush", "--settings", missing);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--settings", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(missing, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_queue_url_the_emulator_does_not_know_exits_2_naming_the_queue_url_setting()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        using var dir = new TempDirectory();
        var values = GoodValues(h);
        string missingQueue = h.QueueUrl[..(h.QueueUrl.LastIndexOf('/') + 1)] + "no-such-queue-" + Guid.NewGuid().ToString("N")[..8];
        values["BulkDispatch__Sqs__QueueUrl"] = missingQueue;

        var result = await CliProcess.RunAsync(dir.Path, "flush", "--settings", dir.Write("local.settings.json", Settings(values)));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("BulkDispatch__Sqs__QueueUrl", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("does not exist", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(h.EventApi.Requests);
    }

    [Fact]
    public async Task A_good_run_exits_0_and_its_json_report_matches_what_the_event_api_received()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(300, seed: 43);
        var messages = FlushHarness.Messages(events, perMessage: 3).ToList();
        await h.EnqueueAsync(messages);
        using var dir = new TempDirectory();
        var values = GoodValues(h);
        values["BulkDispatch__Flush__MaxRequestBytes"] = "60000";

        var result = await CliProcess.RunAsync(dir.Path, "flush", "--settings", dir.Write("local.settings.json", Settings(values)), "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(result.Stdout);
        var r = report.RootElement;
        Assert.True(r.GetProperty("complete").GetBoolean());
        Assert.False(r.GetProperty("dryRun").GetBoolean());
        Assert.Equal("QueueEmpty", r.GetProperty("stopReason").GetString());
        Assert.True(r.GetProperty("queueDrained").GetBoolean());
        Assert.Equal(messages.Count, r.GetProperty("messagesReceived").GetInt64());
        Assert.Equal(messages.Count, r.GetProperty("messagesDeleted").GetInt64());
        Assert.Equal(events.Count, r.GetProperty("eventsReceived").GetInt64());
        Assert.Equal(events.Count, r.GetProperty("eventsDelivered").GetInt64());
        Assert.Equal(h.AcceptedVisitors().Count, r.GetProperty("visitorsDelivered").GetInt64());
        Assert.Equal(h.EventApi.Requests.Count, r.GetProperty("requestsSent").GetInt64());
        Assert.Equal(h.EventApi.AcceptedRequests.Count, r.GetProperty("requestsAccepted").GetInt64());
        Assert.Equal(h.EventApi.Requests.Sum(q => (long)q.Body.Length), r.GetProperty("bytesSent").GetInt64());
        Assert.Equal(0, r.GetProperty("transientFailures").GetInt64());
        Assert.Empty(r.GetProperty("deadLettered").EnumerateObject());
        Assert.Equal(0, r.GetProperty("approximateMessagesLeft").GetInt64());
        // This process's own SQS requests, by operation: what `flush --json` adds to the report.
        var sqsRequests = r.GetProperty("sqsRequests");
        Assert.True(sqsRequests.GetProperty("ReceiveMessage").GetProperty("requests").GetInt64() >= 1, result.Stdout);
        Assert.True(sqsRequests.GetProperty("DeleteMessageBatch").GetProperty("requests").GetInt64() >= (messages.Count + 9) / 10, result.Stdout);
        Assert.True(sqsRequests.GetProperty("ReceiveMessage").GetProperty("billedUnits").GetInt64() >= 1, result.Stdout);

        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors()));
        Assert.True(h.EventApi.Requests.Count >= 2, "expected the 60 KB cap to need several requests");
        Assert.All(h.EventApi.Requests, q => Assert.True(q.Body.Length <= 60_000));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task A_dry_run_prints_the_planned_requests_and_posts_and_deletes_nothing()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(300, seed: 44);
        var messages = FlushHarness.Messages(events, perMessage: 3).ToList();
        await h.EnqueueAsync(messages);
        using var dir = new TempDirectory();
        var values = GoodValues(h);
        values["BulkDispatch__Flush__MaxRequestBytes"] = "60000";

        var result = await CliProcess.RunAsync(dir.Path, "flush", "--dry-run", "--settings", dir.Write("local.settings.json", Settings(values)));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("dry run", result.Stdout, StringComparison.Ordinal);
        var planned = PlannedLine().Matches(result.Stdout).Select(m => (
            Bytes: int.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture),
            Visitors: int.Parse(m.Groups["visitors"].Value, CultureInfo.InvariantCulture),
            Url: m.Groups["url"].Value)).ToList();
        Assert.True(planned.Count >= 2, result.ToString());
        Assert.Equal(VisitorsOf(events).Count, planned.Sum(p => p.Visitors));
        Assert.All(planned, p => Assert.InRange(p.Bytes, 1, 60_000));
        Assert.Equal(
            Sorted(events.Select(e => e.Url).Distinct()),
            Sorted(planned.Select(p => p.Url).Distinct()));
        Assert.DoesNotContain("INVALID JSON", result.Stdout, StringComparison.Ordinal);

        // Nothing posted, nothing deleted or dead-lettered, and every message can be received again at once
        // (the queue's visibility timeout is 30 s, so only a release makes that possible).
        Assert.Empty(h.EventApi.Requests);
        var again = await h.ReceiveAllAsync(h.QueueUrl);
        Assert.Equal(Sorted(messages), Sorted(again.Select(m => m.Body)));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    [GeneratedRegex(@"would POST (?<bytes>\d+) bytes, (?<visitors>\d+) visitors to (?<url>\S+) \(account")]
    private static partial Regex PlannedLine();

    private Dictionary<string, string> GoodValues(FlushHarness h) => new(StringComparer.Ordinal)
    {
        ["BulkDispatch__Sqs__QueueUrl"] = h.QueueUrl,
        ["BulkDispatch__Sqs__ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
        ["BulkDispatch__Optimizely__EndpointOverride"] = h.EventApi.EventsUrl.ToString(),
        ["BulkDispatch__Flush__ReceiveWaitTime"] = "00:00:01",
        ["BulkDispatch__Flush__MaxDuration"] = "00:01:00",
        ["BulkDispatch__Flush__SendGrace"] = "00:00:30",
        ["BulkDispatch__Optimizely__RetryBaseDelay"] = "00:00:00.050",
        ["BulkDispatch__Optimizely__MaxRetries"] = "2",
    };

    /// <summary>A local.settings.json-style file.</summary>
    private static string Settings(Dictionary<string, string> values)
    {
        var json = new JsonObject { ["IsEncrypted"] = false, ["Values"] = new JsonObject(values.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))) };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>The queue still holds exactly what was enqueued, all of it visible, and nothing was posted.</summary>
    private static async Task AssertUntouchedAsync(FlushHarness h)
    {
        var a = await h.Sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = h.QueueUrl,
            AttributeNames = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        });
        Assert.Equal(Enqueued, a.ApproximateNumberOfMessages);
        Assert.Equal(0, a.ApproximateNumberOfMessagesNotVisible);
        Assert.Empty(h.EventApi.Requests);
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }
}
