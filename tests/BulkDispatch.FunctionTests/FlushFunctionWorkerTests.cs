using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using BulkDispatch.Core.Wire;
using BulkDispatch.FunctionTests.Host;
using BulkDispatch.FunctionTests.Protocol;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;

namespace BulkDispatch.FunctionTests;

/// <summary>
/// src/FlushFunction as the Azure Functions host runs it: the real worker process, indexed, loaded and invoked over the
/// host's gRPC protocol by a stand-in host, flushing a real emulator queue into a real local Event API.
/// What only the real host can show (the schedule firing, the storage lock, functionTimeout) is in docs/azure-functions.md.
/// </summary>
public sealed partial class FlushFunctionWorkerTests(QueueFixture queues) : IClassFixture<QueueFixture>
{
    private const string EngineCategory = "BulkDispatch.Flush.Engine.FlushEngine";
    private const string FunctionCategory = "BulkDispatch.FlushFunction.FlushFunction";

    [Fact]
    public async Task Host_session_indexes_loads_drains_on_a_tick_honours_cancel_and_terminates()
    {
        var (queue, deadLetters) = await queues.CreateQueuesAsync();
        await using var api = await LocalEventApi.StartAsync();
        var events = DemoEvents.Generate(visitors: 300, seed: 11);
        await queues.EnqueueAsync(queue, events);
        await using var app = await FunctionAppWorker.StartAsync(Settings(queue, deadLetters, api));

        var flush = await app.IndexAndLoadAsync();

        // A tick on a filled queue: every event reaches the Event API, the queue is left empty, the run reports itself.
        var (drainId, drained) = await app.TickAsync(flush);
        FunctionAppWorker.AssertSucceeded(drained.Result, "tick");
        Assert.Equal(Sorted(events.SelectMany(e => VisitorsOf(e.Body))), Sorted(api.AcceptedRequests.SelectMany(r => r.VisitorJson)));
        Assert.Equal(0, api.SchemaFailures);
        Assert.Equal((0, 0), await queues.CountAsync(queue));
        Assert.Equal((0, 0), await queues.CountAsync(deadLetters));
        var drainLogs = app.Session.LogsOf(drainId);
        var report = Assert.Single(drainLogs, l => l.Category == EngineCategory && l.Message.Contains(" finished: ", StringComparison.Ordinal));
        Assert.Equal(RpcLog.Types.Level.Information, report.Level);
        Assert.Contains("stop=QueueEmpty", report.Message, StringComparison.Ordinal);
        Assert.Contains($"eventsDelivered={events.Count} ", report.Message, StringComparison.Ordinal);
        var outcome = Assert.Single(drainLogs, l => l.Category == FunctionCategory);
        Assert.Contains(": queue drained;", outcome.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("delivered", outcome.Message, StringComparison.Ordinal); // the engine's report line has the counts
        // The worker's own defaults keep the HTTP client's and the resilience pipeline's per-request lines from the host.
        Assert.NotEmpty(api.Requests);
        Assert.DoesNotContain(app.Session.Logs, IsPerRequestChatter);

        // A past-due tick (the host missed a schedule) is said so, and runs.
        var (pastDueId, pastDue) = await app.TickAsync(flush, isPastDue: true);
        FunctionAppWorker.AssertSucceeded(pastDue.Result, "past-due tick");
        var pastDueLog = Assert.Single(app.Session.LogsOf(pastDueId), l => l.Message.Contains("past due", StringComparison.Ordinal));
        Assert.Equal(RpcLog.Types.Level.Warning, pastDueLog.Level);

        // The host cancels a run that is still receiving: it stops receiving, sends what it holds, answers, and says the
        // queue was not drained and why. Every POST takes 5 s, and received bytes are freed only once answered, so the
        // run holds at most MaxBufferedBytes (2 MB) of the 5 MB backlog when the cancel arrives.
        var firstPost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        EventApiFaults.InjectInto(api).Policy = _ =>
        {
            firstPost.TrySetResult();
            return EventApiFault.Delay(TimeSpan.FromSeconds(5));
        };
        var backlog = DemoEvents.Generate(visitors: 6000, seed: 12);
        await queues.EnqueueAsync(queue, backlog);
        var (queued, _) = await queues.CountAsync(queue);
        string cancelledId = await app.StartTickAsync(flush);
        await firstPost.Task.WaitAsync(FunctionAppWorker.InvocationTimeout);
        await app.Session.CancelAsync(cancelledId);
        var cancelled = await app.Session.WaitForInvocationAsync(cancelledId, FunctionAppWorker.InvocationTimeout);
        FunctionAppWorker.AssertSucceeded(cancelled.Result, "cancelled tick");
        var cancelledLogs = app.Session.LogsOf(cancelledId);
        var cancelledReport = Assert.Single(cancelledLogs, l => l.Category == EngineCategory && l.Message.Contains(" finished: ", StringComparison.Ordinal));
        Assert.Contains("stop=Cancelled", cancelledReport.Message, StringComparison.Ordinal);
        Assert.True(Count(cancelledReport.Message, "messagesReceived") < queued, cancelledReport.Message);
        var notDrained = Assert.Single(cancelledLogs, l => l.Category == FunctionCategory);
        Assert.Equal(RpcLog.Types.Level.Warning, notDrained.Level);
        Assert.Contains("queue NOT drained", notDrained.Message, StringComparison.Ordinal);
        Assert.Contains("the host cancelled the invocation", notDrained.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("delivered", notDrained.Message, StringComparison.Ordinal);
        var (visible, inFlight) = await queues.CountAsync(queue);
        Assert.True(visible + inFlight > 0, "the cancelled run drained the queue: the cancel came too late to show anything");

        // WorkerTerminate: the worker stops by itself, cleanly.
        Assert.Equal(0, await app.TerminateAsync());
    }

    [Fact]
    public async Task Bad_settings_fail_each_invocation_naming_every_one_and_the_worker_stays_up()
    {
        var (queue, deadLetters) = await queues.CreateQueuesAsync();
        await using var api = await LocalEventApi.StartAsync();
        await queues.EnqueueAsync(queue, DemoEvents.Generate(visitors: 5));
        var settings = Settings(queue, deadLetters, api);
        settings["BulkDispatch__Flush__MaxRequestBytes"] = "10";
        settings["BulkDispatch__Flush__ReceiveConcurrency"] = "eight";
        await using var app = await FunctionAppWorker.StartAsync(settings);

        var flush = await app.IndexAndLoadAsync();

        for (int tick = 1; tick <= 2; tick++)
        {
            var (_, response) = await app.TickAsync(flush);
            Assert.Equal(StatusResult.Types.Status.Failure, response.Result.Status);
            string message = response.Result.Exception.Message;
            Assert.Contains("BulkDispatch__Flush__MaxRequestBytes: 10 is outside", message, StringComparison.Ordinal);
            Assert.Contains("Example: 3000000.", message, StringComparison.Ordinal);
            Assert.Contains("BulkDispatch__Flush__ReceiveConcurrency: 'eight' is not a whole number", message, StringComparison.Ordinal);
            Assert.Contains("Example: 8.", message, StringComparison.Ordinal);
        }

        // Nothing was received or sent, and the worker is still there to run the next tick once the settings are fixed.
        Assert.Equal((1, 0), await queues.CountAsync(queue));
        Assert.Empty(api.Requests);
        await app.Session.StatusAsync();
        Assert.False(app.Process.HasExited, app.Process.Output);
        Assert.Equal(0, await app.TerminateAsync());
    }

    [Fact]
    public async Task An_app_setting_raises_the_http_client_log_level_the_worker_keeps_low_by_default()
    {
        var (queue, deadLetters) = await queues.CreateQueuesAsync();
        await using var api = await LocalEventApi.StartAsync();
        await queues.EnqueueAsync(queue, DemoEvents.Generate(visitors: 20));
        var settings = Settings(queue, deadLetters, api);
        settings["Logging__LogLevel__System.Net.Http.HttpClient"] = "Information";
        await using var app = await FunctionAppWorker.StartAsync(settings);
        var flush = await app.IndexAndLoadAsync();

        var (id, response) = await app.TickAsync(flush);

        FunctionAppWorker.AssertSucceeded(response.Result, "tick");
        var logs = app.Session.LogsOf(id);
        Assert.Contains(logs, l => l.Category.StartsWith("System.Net.Http.HttpClient.", StringComparison.Ordinal) && l.Level == RpcLog.Types.Level.Information);
        Assert.DoesNotContain(logs, l => l.Category.StartsWith("Polly", StringComparison.Ordinal) && l.Level < RpcLog.Types.Level.Warning);
        Assert.Equal(0, await app.TerminateAsync());
    }

    /// <summary>App settings as local.settings.json's Values would give them: this queue, this Event API, quick polls.</summary>
    private Dictionary<string, string> Settings(string queue, string deadLetters, LocalEventApi api) => new()
    {
        ["FlushSchedule"] = "0 */1 * * * *",
        ["AWS_ACCESS_KEY_ID"] = "test",
        ["AWS_SECRET_ACCESS_KEY"] = "test",
        ["BulkDispatch__Sqs__QueueUrl"] = queue,
        ["BulkDispatch__Sqs__DeadLetterQueueUrl"] = deadLetters,
        ["BulkDispatch__Sqs__ServiceUrl"] = queues.Emulator.ServiceUrl.ToString(),
        ["BulkDispatch__Sqs__Region"] = "us-west-2",
        ["BulkDispatch__Optimizely__EndpointOverride"] = api.EventsUrl.ToString(),
        ["BulkDispatch__Optimizely__RetryBaseDelay"] = "00:00:00.050",
        ["BulkDispatch__Optimizely__MaxRetries"] = "2",
        ["BulkDispatch__Flush__ReceiveWaitTime"] = "00:00:01",
        ["BulkDispatch__Flush__MaxDuration"] = "00:01:00",
        ["BulkDispatch__Flush__SendGrace"] = "00:00:30",
        // Small requests and a small memory budget: a backlog of a few MB is more than one run can hold at once.
        ["BulkDispatch__Flush__MaxRequestBytes"] = "1000000",
        ["BulkDispatch__Flush__MaxBufferedBytes"] = "2000000",
    };

    /// <summary>Information (or lower) lines from the HTTP client's handlers or Polly: one set per Event API request.</summary>
    private static bool IsPerRequestChatter(RpcLog log) =>
        (log.Category.StartsWith("System.Net.Http.HttpClient", StringComparison.Ordinal) || log.Category.StartsWith("Polly", StringComparison.Ordinal))
        && log.Level < RpcLog.Types.Level.Warning;

    private static List<string> Sorted(IEnumerable<string> values) => [.. values.Order(StringComparer.Ordinal)];

    private static IEnumerable<string> VisitorsOf(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return [.. doc.RootElement.GetProperty("visitors").EnumerateArray().Select(v => v.GetRawText())];
    }

    /// <summary>A <c>name=N</c> count from the engine's report line.</summary>
    private static long Count(string report, string name)
    {
        var match = Regex.Match(report, $@"\b{name}=(\d+)");
        Assert.True(match.Success, $"no {name}= in: {report}");
        return long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
