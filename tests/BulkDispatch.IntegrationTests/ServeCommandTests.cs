using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using Xunit.Abstractions;
using static BulkDispatch.IntegrationTests.Infrastructure.FaultTestHelpers;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// <c>bulkdispatch serve</c> as a real process on a two-second schedule against the emulator and the local Event API:
/// events that arrive between ticks go out on the next tick, a slow endpoint never makes two runs overlap (the ticks in
/// between are skipped and logged), SIGTERM lets the run in flight finish and loses nothing, <c>--metrics-port</c> serves
/// the flush meter to Prometheus, and a bad schedule exits 2 naming it.
/// </summary>
public sealed partial class ServeCommandTests(SqsEmulatorFixture fixture, ITestOutputHelper output) : IClassFixture<SqsEmulatorFixture>
{
    private const string EveryTwoSeconds = "*/2 * * * * *";
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Events_enqueued_between_ticks_are_delivered_by_the_next_tick()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(120, seed: 51);
        var first = FlushHarness.Messages(events.Take(events.Count / 2), perMessage: 3).ToList();
        var second = FlushHarness.Messages(events.Skip(events.Count / 2), perMessage: 3).ToList();
        using var dir = new TempDirectory();
        await using var serve = ServeProcess.Start(dir, GoodValues(h), output);

        // A run on the empty queue first: the service is ticking before anything is enqueued.
        await serve.WaitForLineAsync(RunLinePattern(), DeliveryTimeout);
        await h.EnqueueAsync(first);
        await WaitForVisitorsAsync(h, VisitorsOf(events.Take(events.Count / 2)).Count, serve);

        // Only once the run that delivered the first batch has finished: a run still receiving would take the second too.
        await serve.WaitForAsync(() => serve.Runs().Sum(r => r.MessagesDeleted) >= first.Count, DeliveryTimeout, "the first batch's run line");
        await h.EnqueueAsync(second);
        await WaitForVisitorsAsync(h, VisitorsOf(events).Count, serve);

        int exit = await serve.StopAsync();

        Assert.True(exit == 0, serve.Describe($"exit code {exit}"));
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors()));
        var runs = serve.Runs();
        Assert.True(runs.Count >= 3, serve.Describe("expected an empty run and one run per batch"));
        Assert.Equal(first.Count + second.Count, runs.Sum(r => r.MessagesReceived));
        Assert.Equal(first.Count + second.Count, runs.Sum(r => r.MessagesDeleted));
        // The run in flight when the service stopped was cancelled (not complete: it cannot know it drained the
        // queue), but like every other run it sent everything it took.
        Assert.All(runs, r => Assert.True(r.Complete || r.Stop == "Cancelled", serve.Describe("a run was incomplete")));
        Assert.All(runs, r => Assert.True(r.MessagesDeleted == r.MessagesReceived, serve.Describe("a run left what it took")));
        AssertNoOverlap(runs, serve);
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task An_endpoint_slower_than_the_interval_never_causes_overlapping_runs_and_the_skipped_ticks_are_logged()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(60, seed: 52);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);
        h.Faults.Policy = _ => EventApiFault.Delay(TimeSpan.FromSeconds(5));
        using var dir = new TempDirectory();
        await using var serve = ServeProcess.Start(dir, GoodValues(h), output);

        // The first run takes more than 5 s (every request waits 5 s); the service must skip the ticks meanwhile,
        // then go on ticking. Wait for two runs after the slow one, so ticks after it are seen too.
        await WaitForVisitorsAsync(h, VisitorsOf(events).Count, serve);
        await serve.WaitForAsync(() => serve.Runs().Count >= 3, DeliveryTimeout, "three runs");
        int exit = await serve.StopAsync();

        Assert.True(exit == 0, serve.Describe($"exit code {exit}"));
        var runs = serve.Runs();
        AssertNoOverlap(runs, serve);
        var slow = runs.Where(r => r.MessagesReceived > 0).ToList();
        Assert.NotEmpty(slow);
        Assert.All(slow, r => Assert.True(r.Finished - r.Started >= TimeSpan.FromSeconds(5), serve.Describe("a run with messages was not slowed by the endpoint")));
        var skipped = serve.SkippedTicks();
        Assert.True(skipped.Count >= 2, serve.Describe($"expected at least 2 skipped ticks during a run of over 5 s on a 2 s schedule, saw {skipped.Count}"));
        foreach (var (tick, runStarted) in skipped)
        {
            // Each skipped tick fell inside a run: after the run it names started and before that run finished.
            var during = runs.SingleOrDefault(r => r.Started == runStarted);
            Assert.True(during is not null, serve.Describe($"the skipped tick {tick:O} names a run started at {runStarted:O} that has no run line"));
            Assert.InRange(tick, during.Started.AddMilliseconds(-1000), during.Finished);
        }

        // The ticks the service did run were at least two seconds apart and on the schedule.
        Assert.All(runs, r => Assert.Equal(0, r.Tick.Second % 2));
        Assert.Equal(messages.Count, runs.Sum(r => r.MessagesDeleted));
        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
    }

    [Fact]
    public async Task Sigterm_during_a_run_lets_it_finish_exits_0_and_loses_nothing()
    {
        const int visibilityTimeoutSeconds = 10;
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator, visibilityTimeoutSeconds: visibilityTimeoutSeconds);
        var events = DemoEvents.Generate(80, seed: 53);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);
        h.Faults.Policy = _ => EventApiFault.Delay(TimeSpan.FromSeconds(4));
        using var dir = new TempDirectory();
        await using var serve = ServeProcess.Start(dir, GoodValues(h), output);

        // Signal once the run is sending: its first request has reached the (slow) Event API.
        await serve.WaitForAsync(() => h.EventApi.Requests.Count > 0, DeliveryTimeout, "a request at the Event API");
        var signalled = Stopwatch.StartNew();
        int exit = await serve.StopAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"exited {signalled.Elapsed.TotalSeconds:0.0} s after SIGTERM");

        Assert.True(exit == 0, serve.Describe($"exit code {exit}"));
        Assert.Contains("Stopping: no more ticks; waiting for the run in flight", serve.Output, StringComparison.Ordinal);
        var runs = serve.Runs();
        var last = Assert.Single(runs, r => r.MessagesReceived > 0);
        Assert.True(last.Finished > last.Started, serve.Describe("the run in flight has no finished line"));
        // Stopped while it was sending: whether it had drained the queue depends on timing, but it finished its sending.
        Assert.True(last.MessagesDeleted == last.MessagesReceived, serve.Describe("the run in flight did not finish its sending"));
        AssertNoOverlap(runs, serve);

        // Nothing lost: what was not deleted comes back after the visibility timeout, and the next flush delivers it.
        h.Faults.Policy = null;
        if (await h.DepthAsync(h.QueueUrl) > 0)
        {
            long left = await h.DepthAsync(h.QueueUrl);
            await WaitUntilAllBackAsync(h, h.QueueUrl, (int)left, TimeSpan.FromSeconds(visibilityTimeoutSeconds), TimeSpan.FromSeconds(visibilityTimeoutSeconds + 20));
            var report = await h.FlushAsync();
            Assert.True(report.Complete, report.ToText());
        }

        Assert.Equal(Sorted(VisitorsOf(events)), Sorted(h.AcceptedVisitors().Distinct()));
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task Metrics_port_serves_the_flush_meter_in_prometheus_text_format()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var events = DemoEvents.Generate(40, seed: 54);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);
        int port = CliProcess.FreePort();
        using var dir = new TempDirectory();
        await using var serve = ServeProcess.Start(dir, GoodValues(h), output, "--run-on-start", "--metrics-port", port.ToString(CultureInfo.InvariantCulture));

        await WaitForVisitorsAsync(h, VisitorsOf(events).Count, serve);
        await serve.WaitForAsync(() => serve.Runs().Any(r => r.MessagesDeleted > 0), DeliveryTimeout, "the run line");
        var first = serve.Runs()[0];
        Assert.Equal("start", first.TickText);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        string text = await response.Content.ReadAsStringAsync();
        int exit = await serve.StopAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        Assert.Contains("bulkdispatch_flush", text, StringComparison.Ordinal);
        var received = Regex.Match(text, @"^bulkdispatch_flush_messages_received_total(\{[^}]*\})? (?<value>\d+)", RegexOptions.Multiline);
        Assert.True(received.Success, text);
        Assert.Equal(messages.Count, long.Parse(received.Groups["value"].Value, CultureInfo.InvariantCulture));
        Assert.Contains("bulkdispatch_flush_run_duration_seconds_count", text, StringComparison.Ordinal);
        Assert.True(exit == 0, serve.Describe($"exit code {exit}"));
    }

    public static TheoryData<string, string, string> BadSchedules => new()
    {
        { "FlushSchedule", "*/5 * * * *", "'0 */5 * * * *'" },
        { "FlushSchedule", "every minute", "Example: 0 */1 * * * *" },
        { "WEBSITE_TIME_ZONE", "Mars/Olympus_Mons", "Example: Europe/Berlin" },
    };

    [Theory]
    [MemberData(nameof(BadSchedules))]
    public async Task A_bad_schedule_or_time_zone_exits_2_naming_it_before_anything_is_received(string name, string value, string hint)
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await h.EnqueueAsync(FlushHarness.Messages(DemoEvents.Generate(20, seed: 55), perMessage: 2));
        using var dir = new TempDirectory();
        var values = GoodValues(h);
        values[name] = value;

        var result = await CliProcess.RunAsync(dir.Path, "serve", "--run-on-start", "--settings", dir.Write("local.settings.json", SettingsFile(values)));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(name + ": ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(hint, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was received", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(h.EventApi.Requests);
        var visible = await h.Sqs.GetQueueAttributesAsync(new Amazon.SQS.Model.GetQueueAttributesRequest
        {
            QueueUrl = h.QueueUrl,
            AttributeNames = ["ApproximateNumberOfMessagesNotVisible"],
        });
        Assert.Equal(0, visible.ApproximateNumberOfMessagesNotVisible);
    }

    [Fact]
    public async Task An_unreachable_key_vault_makes_each_run_incomplete_and_the_service_goes_on()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var messages = FlushHarness.Messages(DemoEvents.Generate(20, seed: 56), perMessage: 2).ToList();
        await h.EnqueueAsync(messages);
        using var dir = new TempDirectory();
        var values = GoodValues(h);
        values["FlushSchedule"] = "*/5 * * * * *";
        values["BulkDispatch__Aws__Credentials"] = "KeyVault";
        values["BulkDispatch__KeyVault__VaultUri"] = Credentials.KeyVaultOutageTests.UnresolvableVault;
        await using var serve = ServeProcess.Start(dir, values, output, "--run-on-start");

        await serve.WaitForAsync(() => serve.Runs().Count >= 2, DeliveryTimeout, "two run lines");
        int exit = await serve.StopAsync();

        Assert.True(exit == 0, serve.Describe($"exit code {exit}"));
        Assert.All(serve.Runs(), r => Assert.False(r.Complete));
        Assert.Contains("lastFailure=\"BulkDispatch__KeyVault__VaultUri: Key Vault https://bulkdispatch-no-such-vault.invalid/ could not be reached", serve.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected error", serve.Output, StringComparison.Ordinal);
        Assert.Equal(messages.Count, await h.DepthAsync(h.QueueUrl));
    }

    [Fact]
    public async Task A_metrics_port_already_in_use_exits_2_naming_it()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var dir = new TempDirectory();

        var result = await CliProcess.RunAsync(dir.Path, "serve", "--metrics-port", port.ToString(CultureInfo.InvariantCulture));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"--metrics-port: cannot listen on http://127.0.0.1:{port}/metrics", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_shows_an_example()
    {
        using var dir = new TempDirectory();

        var result = await CliProcess.RunAsync(dir.Path, "serve", "--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("bulkdispatch serve --settings local.settings.json", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--run-on-start", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("--metrics-port", result.Stdout, StringComparison.Ordinal);
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private Dictionary<string, string> GoodValues(FlushHarness h) => new(StringComparer.Ordinal)
    {
        ["FlushSchedule"] = EveryTwoSeconds,
        ["BulkDispatch__Sqs__QueueUrl"] = h.QueueUrl,
        ["BulkDispatch__Sqs__ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
        ["BulkDispatch__Optimizely__EndpointOverride"] = h.EventApi.EventsUrl.ToString(),
        ["BulkDispatch__Flush__ReceiveWaitTime"] = "00:00:01",
        ["BulkDispatch__Flush__MaxDuration"] = "00:00:20",
        ["BulkDispatch__Flush__SendGrace"] = "00:00:20",
        ["BulkDispatch__Optimizely__RetryBaseDelay"] = "00:00:00.050",
        ["BulkDispatch__Optimizely__MaxRetries"] = "2",
    };

    private static string SettingsFile(Dictionary<string, string> values)
    {
        var json = new JsonObject { ["IsEncrypted"] = false, ["Values"] = new JsonObject(values.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))) };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static async Task WaitForVisitorsAsync(FlushHarness h, int count, ServeProcess serve) =>
        await serve.WaitForAsync(() => h.AcceptedVisitors().Count >= count, DeliveryTimeout, $"{count} visitors accepted by the Event API");

    /// <summary>Runs, ordered by start, never overlap: each starts at or after the previous one finished.</summary>
    private static void AssertNoOverlap(IReadOnlyList<RunLine> runs, ServeProcess serve)
    {
        var ordered = runs.OrderBy(r => r.Started).ToList();
        for (int i = 1; i < ordered.Count; i++)
        {
            Assert.True(
                ordered[i].Started >= ordered[i - 1].Finished,
                serve.Describe($"run {ordered[i].RunId} started at {ordered[i].Started:O}, before run {ordered[i - 1].RunId} finished at {ordered[i - 1].Finished:O}"));
        }
    }

    [GeneratedRegex(@"Flush run (?<id>\S+) (?<outcome>complete|INCOMPLETE): tick=(?<tick>\S+) started=(?<started>\S+) finished=(?<finished>\S+) stop=(?<stop>\S+)")]
    private static partial Regex RunLinePattern();

    /// <summary>The engine's report of a run: the counts (the scheduler's run line has none).</summary>
    [GeneratedRegex(@"Flush (?<id>\S+) finished: complete=\S+ stop=\S+ drained=\S+ dryRun=\S+ messagesReceived=(?<received>\d+) messagesDeleted=(?<deleted>\d+)")]
    private static partial Regex ReportLinePattern();

    [GeneratedRegex(@"Tick (?<tick>\S+) skipped: a run is in progress \(started=(?<started>[^)]+)\)")]
    private static partial Regex SkippedLinePattern();

    internal sealed record RunLine(string RunId, bool Complete, string Stop, string TickText, DateTimeOffset Tick, DateTimeOffset Started, DateTimeOffset Finished, long MessagesReceived, long MessagesDeleted);

    /// <summary>A running <c>bulkdispatch serve</c>: its run lines and skipped ticks, parsed from its output.</summary>
    private sealed class ServeProcess : BackgroundCli
    {
        private ServeProcess(ITestOutputHelper testOutput)
            : base("serve", testOutput)
        {
        }

        public static ServeProcess Start(TempDirectory dir, Dictionary<string, string> values, ITestOutputHelper testOutput, params string[] extra)
        {
            string settings = dir.Write("local.settings.json", SettingsFile(values));
            var serve = new ServeProcess(testOutput);
            serve.Start(CliProcess.StartInfo(dir.Path, ["serve", "--settings", settings, .. extra]));
            return serve;
        }

        public List<RunLine> Runs()
        {
            string output = Output;
            var reports = ReportLinePattern().Matches(output).ToDictionary(m => m.Groups["id"].Value, StringComparer.Ordinal);
            return RunLinePattern().Matches(output).Where(m => reports.ContainsKey(m.Groups["id"].Value)).Select(m => Parse(m, reports[m.Groups["id"].Value])).ToList();
        }

        private static RunLine Parse(Match m, Match report) => new(
            m.Groups["id"].Value,
            m.Groups["outcome"].Value == "complete",
            m.Groups["stop"].Value,
            m.Groups["tick"].Value,
            m.Groups["tick"].Value == "start" ? Time(m.Groups["started"].Value) : Time(m.Groups["tick"].Value),
            Time(m.Groups["started"].Value),
            Time(m.Groups["finished"].Value),
            long.Parse(report.Groups["received"].Value, CultureInfo.InvariantCulture),
            long.Parse(report.Groups["deleted"].Value, CultureInfo.InvariantCulture));

        public List<(DateTimeOffset Tick, DateTimeOffset RunStarted)> SkippedTicks() =>
            SkippedLinePattern().Matches(Output).Select(m => (Time(m.Groups["tick"].Value), Time(m.Groups["started"].Value))).ToList();

        private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
    }
}
