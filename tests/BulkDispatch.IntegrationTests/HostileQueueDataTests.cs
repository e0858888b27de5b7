using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.TestKit;
using static BulkDispatch.IntegrationTests.Infrastructure.QueueCommandSupport;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// Whoever can write to the queue (or the dead-letter queue) chooses URLs, verbs and attribute values: none of it
/// may start a log line of its own in the real <c>bulkdispatch</c> process, break a dead letter's Detail attribute,
/// or steer a request somewhere the allow-list did not check (issue 14).
/// </summary>
public sealed class HostileQueueDataTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private const string UsEndpoint = "https://logx.optimizely.com/v1/events";

    private const string Forged = "12:00:00 info: BulkDispatch.Flush.Engine.FlushEngine[1] Flush FORGED: all good";

    private static readonly Dictionary<string, string> JsonHeaders = new() { ["Content-Type"] = "application/json" };

    [Fact]
    public async Task A_URL_holding_line_breaks_and_controls_is_dead_lettered_with_an_escaped_Detail_and_forges_no_log_line()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string crlf = "https://evil.example/v1/events\r\n" + Forged + "\0\u0001\u007f\u0085\u009b\u2028";
        string lf = "https://evil.example/v1/events?\n" + Forged;
        var good = new QueuedEvent(UsEndpoint, "POST", JsonHeaders, Batch("good"), DateTimeOffset.UnixEpoch);
        await h.EnqueueAsync(
        [
            WireFormat.Encode([Event(crlf, "crlf"), good]),
            WireFormat.Encode([Event(lf, "lf")]),
        ]);
        using var dir = new TempDirectory();

        var result = await RunAsync(h, dir.Path, "flush", [.. FastFlushArgs(h)]);

        Assert.True(result.ExitCode == 0, result.ToString());
        AssertNoLineStartsWithForged(result.Stderr, result);
        Assert.Contains("dead-lettered (endpoint-not-allowed)", result.Stderr, StringComparison.Ordinal); // the warnings were written, escaped
        Assert.Equal(["good"], h.EventApi.AcceptedRequests.SelectMany(r => r.VisitorIds));

        var dead = (await h.ReceiveAllAsync(h.DeadLetterQueueUrl)).ToDictionary(d => MessageDecoder.Decode(d.Body, null).Events.Single().Url);
        Assert.Equal([crlf, lf], dead.Keys.Order(StringComparer.Ordinal)); // each event kept as it came
        Assert.All(dead.Values, d => Assert.Equal(DeadLetterReason.EndpointNotAllowed, FlushHarness.Reason(d)));
        Assert.All(dead.Values, d => Assert.DoesNotContain(FlushHarness.Detail(d), c => char.IsControl(c) || c is '\u2028'));
        Assert.Contains(@"events\r\n" + Forged + @"\0\u0001\u007F\u0085\u009B\u2028'", FlushHarness.Detail(dead[crlf]), StringComparison.Ordinal);
        Assert.Contains(@"events?\n" + Forged + "'", FlushHarness.Detail(dead[lf]), StringComparison.Ordinal);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
    }

    [Fact]
    public async Task An_Event_API_answer_echoing_controls_reaches_the_Detail_escaped()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        h.Faults.Policy = r => r.VisitorIds.Contains("refused") ? EventApiFault.BadRequest("visitor 'refused\0\u0085\u001b[2K' is invalid\r\n" + Forged) : null;
        await h.EnqueueAsync([WireFormat.Encode([new QueuedEvent(UsEndpoint, "POST", JsonHeaders, Batch("refused"), DateTimeOffset.UnixEpoch)])]);

        var report = await h.FlushAsync();

        Assert.True(report.Complete, report.ToText());
        var dead = Assert.Single(await h.ReceiveAllAsync(h.DeadLetterQueueUrl));
        Assert.Equal(DeadLetterReason.RejectedByOptimizely, FlushHarness.Reason(dead));
        string detail = FlushHarness.Detail(dead);
        Assert.DoesNotContain(detail, char.IsControl);
        // Line breaks (NEL too) become spaces, as they always did; the other controls are escaped.
        Assert.Contains(@"'refused\0 \u001B[2K' is invalid " + Forged, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_query_or_fragment_never_reaches_the_Event_API_and_the_event_is_dead_lettered()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string endpoint = h.EventApi.EventsUrl.ToString();
        await h.EnqueueAsync(
        [
            WireFormat.Encode(
            [
                new QueuedEvent(endpoint + "?x=1&debug=true", "POST", JsonHeaders, Batch("query"), DateTimeOffset.UnixEpoch),
                new QueuedEvent(endpoint, "POST", JsonHeaders, Batch("plain"), DateTimeOffset.UnixEpoch),
            ]),
            WireFormat.Encode([new QueuedEvent(endpoint + "#fragment", "POST", JsonHeaders, Batch("fragment"), DateTimeOffset.UnixEpoch)]),
        ]);

        // The event's own URL is called (no override), as in production with the logx endpoints.
        var report = await h.FlushAsync(new Dictionary<string, string?>
        {
            ["BulkDispatch:Optimizely:EndpointOverride"] = "",
            ["BulkDispatch:Optimizely:AllowedEndpoints"] = endpoint,
        });

        Assert.True(report.Complete, report.ToText());
        var request = Assert.Single(h.EventApi.Requests);
        Assert.Equal("", request.Query);
        Assert.Equal(["plain"], request.VisitorIds);
        var dead = await h.ReceiveAllAsync(h.DeadLetterQueueUrl);
        Assert.Equal(2, dead.Count);
        Assert.All(dead, d => Assert.Equal(DeadLetterReason.EndpointNotAllowed, FlushHarness.Reason(d)));
        Assert.All(dead, d => Assert.Contains("has a query, fragment or user info", FlushHarness.Detail(d), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reasons_read_back_from_the_dead_letter_queue_are_printed_escaped_by_stats_and_redrive()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await DeadLetterDirectlyAsync(h, "odd\r\n" + Forged + "\u0085", 2, "hostile");
        using var dir = new TempDirectory();

        var stats = await RunAsync(h, dir.Path, "stats");
        var redrive = await RunAsync(h, dir.Path, "redrive", "--dry-run");

        Assert.True(stats.ExitCode == 0, stats.ToString());
        Assert.True(redrive.ExitCode == 0, redrive.ToString());
        foreach (var result in new[] { stats, redrive })
        {
            AssertNoLineStartsWithForged(result.Stdout + result.Stderr, result);
            Assert.Contains(@"odd\r\n" + Forged + @"\u0085", result.Stdout, StringComparison.Ordinal);
        }
    }

    private static QueuedEvent Event(string url, string visitorId) => new(url, "POST", JsonHeaders, Batch(visitorId), DateTimeOffset.UnixEpoch);

    private static string[] FastFlushArgs(FlushHarness h) =>
    [
        "--set", $"BulkDispatch__Optimizely__EndpointOverride={h.EventApi.EventsUrl}",
        "--set", "BulkDispatch__Flush__ReceiveWaitTime=00:00:01",
        "--set", "BulkDispatch__Flush__MaxDuration=00:01:00",
    ];

    /// <summary>Every line a log reader could see: split at CR and LF alike, leading blanks ignored.</summary>
    private static void AssertNoLineStartsWithForged(string output, CliResult result) =>
        Assert.All(output.Split('\r', '\n'), line => Assert.False(line.TrimStart().StartsWith(Forged, StringComparison.Ordinal), result.ToString()));

    private static string Batch(string visitorId) =>
        $$"""{"account_id":"12345","project_id":"678","client_name":"csharp-sdk","client_version":"4.4.0","anonymize_ip":true,"enrich_decisions":true,"visitors":[{"visitor_id":"{{visitorId}}","attributes":[],"snapshots":[{"decisions":[],"events":[{"entity_id":"1","key":"k","uuid":"{{Guid.NewGuid()}}","timestamp":1764000000000}]}]}]}""";
}
