using System.Collections.Concurrent;
using BulkDispatch.Cli.Serve;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Cli;

/// <summary>
/// The <c>serve</c> loop on a fake clock: ticks start runs, a tick that arrives during a run is skipped and logged,
/// stopping passes the cancellation to the run in flight and waits for it, failures do not stop the schedule.
/// </summary>
public sealed class FlushSchedulerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, 500, TimeSpan.Zero);

    [Fact]
    public async Task Ticks_that_arrive_during_a_run_are_skipped_and_logged_and_runs_never_overlap()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new FakeRuns();
        var log = new ListLogger();
        var scheduler = new FlushScheduler(FlushSchedule.Parse("*/2 * * * * *"), runs.RunAsync, time, log, runOnStart: false);
        using var stop = new CancellationTokenSource();
        var serving = scheduler.RunAsync(stop.Token);

        await AdvanceToTickAsync(scheduler, time, At(2));
        await runs.WaitStartedAsync(1);

        await AdvanceToTickAsync(scheduler, time, At(4)); // run 1 still in progress
        await AdvanceToTickAsync(scheduler, time, At(6)); // still
        await WaitForNextTickAsync(scheduler, At(8));
        Assert.Equal(2, scheduler.TicksSkipped);
        Assert.Equal(1, scheduler.RunsStarted);
        Assert.Contains(log.Lines, l => l.Contains("Tick 2026-01-01T00:00:04.000Z skipped: a run is in progress (started=2026-01-01T00:00:02.000Z)", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("Tick 2026-01-01T00:00:06.000Z skipped: a run is in progress", StringComparison.Ordinal));

        runs.Finish(1);
        await log.WaitForAsync("Flush run run-1 complete");
        await AdvanceToTickAsync(scheduler, time, At(8));
        await runs.WaitStartedAsync(2);
        runs.Finish(2);
        await log.WaitForAsync("Flush run run-2 complete");
        await AdvanceToTickAsync(scheduler, time, At(10));
        await runs.WaitStartedAsync(3);
        runs.Finish(3);
        await log.WaitForAsync("Flush run run-3 complete");

        await stop.CancelAsync();
        await serving.WaitAsync(Patience);
        Assert.Equal(1, runs.MaxConcurrent);
        Assert.Equal(3, scheduler.RunsStarted);
        Assert.Equal(2, scheduler.TicksSkipped);
        var line = Assert.Single(log.Lines, l => l.Contains("Flush run run-1 complete", StringComparison.Ordinal));
        Assert.Contains("tick=2026-01-01T00:00:02.000Z started=2026-01-01T00:00:02.000Z finished=2026-01-01T00:00:06.000Z", line, StringComparison.Ordinal);
        Assert.EndsWith("stop=QueueEmpty", line, StringComparison.Ordinal);
        Assert.DoesNotContain("messagesReceived", line, StringComparison.Ordinal); // the engine's report has the counts
    }

    [Fact]
    public async Task Nothing_runs_before_the_first_tick_unless_asked_to_run_on_start()
    {
        var time = new FakeTimeProvider(Start);
        var lazyRuns = new FakeRuns();
        var lazy = new FlushScheduler(FlushSchedule.Parse("0 */1 * * * *"), lazyRuns.RunAsync, time, new ListLogger(), runOnStart: false);
        var eagerRuns = new FakeRuns();
        var eager = new FlushScheduler(FlushSchedule.Parse("0 */1 * * * *"), eagerRuns.RunAsync, time, new ListLogger(), runOnStart: true);
        using var stop = new CancellationTokenSource();

        var lazyServing = lazy.RunAsync(stop.Token);
        var eagerServing = eager.RunAsync(stop.Token);
        await eagerRuns.WaitStartedAsync(1);
        await WaitForNextTickAsync(lazy, Start.AddSeconds(59.5));
        await WaitForNextTickAsync(eager, Start.AddSeconds(59.5));
        Assert.Equal(0, lazy.RunsStarted);
        Assert.Equal(1, eager.RunsStarted);

        eagerRuns.Finish(1);
        await stop.CancelAsync();
        await Task.WhenAll(lazyServing, eagerServing).WaitAsync(Patience);
        Assert.Equal(0, lazyRuns.Started);
    }

    [Fact]
    public async Task Stopping_cancels_the_run_in_flight_and_waits_until_it_has_finished()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new FakeRuns();
        var log = new ListLogger();
        var scheduler = new FlushScheduler(FlushSchedule.Parse("*/2 * * * * *"), runs.RunAsync, time, log, runOnStart: false);
        using var stop = new CancellationTokenSource();
        var serving = scheduler.RunAsync(stop.Token);
        await AdvanceToTickAsync(scheduler, time, At(2));
        await runs.WaitStartedAsync(1);

        await stop.CancelAsync();
        Assert.True(runs.Token(1).IsCancellationRequested, "the run's token was not cancelled: it would keep receiving");
        await log.WaitForAsync("Stopping: no more ticks; waiting for the run in flight");
        await Task.Delay(200);
        Assert.False(serving.IsCompleted, "the scheduler stopped before the run in flight had finished");

        time.Advance(TimeSpan.FromSeconds(10)); // no new run starts while stopping
        runs.Finish(1);
        await serving.WaitAsync(Patience);
        Assert.Equal(1, runs.Started);
        Assert.Contains(log.Lines, l => l.Contains("Flush run run-1 complete", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("Stopped after 1 run(s) and 0 skipped tick(s)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_run_that_throws_is_logged_and_the_next_tick_runs_again()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new FakeRuns();
        var log = new ListLogger();
        var scheduler = new FlushScheduler(FlushSchedule.Parse("*/2 * * * * *"), runs.RunAsync, time, log, runOnStart: false);
        using var stop = new CancellationTokenSource();
        var serving = scheduler.RunAsync(stop.Token);

        await AdvanceToTickAsync(scheduler, time, At(2));
        await runs.WaitStartedAsync(1);
        runs.Fail(1, new BulkDispatchConfigurationException("BulkDispatch__Sqs__QueueUrl: the queue does not exist."));
        await log.WaitForAsync("Flush run failed: tick=2026-01-01T00:00:02.000Z");

        await AdvanceToTickAsync(scheduler, time, At(4));
        await runs.WaitStartedAsync(2);
        runs.Fail(2, new InvalidOperationException("boom"));
        await log.WaitForAsync("Flush run failed with an unexpected error: tick=2026-01-01T00:00:04.000Z");

        await AdvanceToTickAsync(scheduler, time, At(6));
        await runs.WaitStartedAsync(3);
        runs.Fail(3, new HttpRequestException("Connection refused (localhost:1)"));
        await log.WaitForAsync("Flush run failed: tick=2026-01-01T00:00:06.000Z started=2026-01-01T00:00:06.000Z finished=2026-01-01T00:00:06.000Z: HttpRequestException: Connection refused");

        await AdvanceToTickAsync(scheduler, time, At(8));
        await runs.WaitStartedAsync(4);
        runs.Finish(4);
        await log.WaitForAsync("Flush run run-4 complete");

        await stop.CancelAsync();
        await serving.WaitAsync(Patience);
        Assert.Equal(3, scheduler.RunsFailed);
        Assert.Equal(4, scheduler.RunsStarted);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("the queue does not exist", StringComparison.Ordinal));
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Error && e.Exception is InvalidOperationException);
    }

    [Fact]
    public async Task An_incomplete_run_is_logged_as_a_warning_with_its_last_failure()
    {
        var time = new FakeTimeProvider(Start);
        var runs = new FakeRuns { Complete = false };
        var log = new ListLogger();
        var scheduler = new FlushScheduler(FlushSchedule.Parse("*/2 * * * * *"), runs.RunAsync, time, log, runOnStart: true);
        using var stop = new CancellationTokenSource();
        var serving = scheduler.RunAsync(stop.Token);
        await runs.WaitStartedAsync(1);
        runs.Finish(1);
        await log.WaitForAsync("Flush run run-1 INCOMPLETE");
        await stop.CancelAsync();
        await serving.WaitAsync(Patience);

        var entry = Assert.Single(log.Entries, e => e.Message.Contains("run-1 INCOMPLETE", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains("tick=start", entry.Message, StringComparison.Ordinal);
        Assert.Contains("lastFailure=\"the Event API answered 503\"", entry.Message, StringComparison.Ordinal);
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private static DateTimeOffset At(int second) => new(2026, 1, 1, 0, 0, second, TimeSpan.Zero);

    /// <summary>Waits until the scheduler waits for <paramref name="tick"/>, then moves the clock to it.</summary>
    private static async Task AdvanceToTickAsync(FlushScheduler scheduler, FakeTimeProvider time, DateTimeOffset tick)
    {
        await WaitForNextTickAsync(scheduler, tick);
        time.SetUtcNow(tick);
    }

    private static async Task WaitForNextTickAsync(FlushScheduler scheduler, DateTimeOffset tick)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (scheduler.NextTick != tick)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the scheduler never waited for {tick:O} (it waits for {scheduler.NextTick:O})");
            await Task.Delay(5);
        }
    }

    /// <summary>Runs the test finishes by hand, numbered from 1.</summary>
    private sealed class FakeRuns
    {
        private readonly ConcurrentDictionary<int, TaskCompletionSource<FlushReport>> _gates = new();
        private readonly ConcurrentDictionary<int, CancellationToken> _tokens = new();
        private int _started, _active, _maxConcurrent;

        public bool Complete { get; init; } = true;

        public int Started => Volatile.Read(ref _started);

        public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

        public CancellationToken Token(int run) => _tokens[run];

        public async Task<FlushReport> RunAsync(CancellationToken token)
        {
            int n = Interlocked.Increment(ref _started);
            int active = Interlocked.Increment(ref _active);
            InterlockedMax(ref _maxConcurrent, active);
            _tokens[n] = token;
            try
            {
                return await Gate(n).Task;
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }
        }

        public async Task WaitStartedAsync(int run)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (Started < run || !_tokens.ContainsKey(run))
            {
                Assert.True(DateTime.UtcNow < deadline, $"run {run} never started ({Started} did)");
                await Task.Delay(5);
            }
        }

        public void Finish(int run) => Gate(run).SetResult(Report($"run-{run}", Complete));

        public void Fail(int run, Exception ex) => Gate(run).SetException(ex);

        private TaskCompletionSource<FlushReport> Gate(int run) =>
            _gates.GetOrAdd(run, _ => new TaskCompletionSource<FlushReport>(TaskCreationOptions.RunContinuationsAsynchronously));

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
            {
            }
        }

        private static FlushReport Report(string runId, bool complete) => new()
        {
            RunId = runId,
            StartedAt = Start,
            Duration = TimeSpan.FromSeconds(1),
            Complete = complete,
            StopReason = complete ? FlushStopReason.QueueEmpty : FlushStopReason.TransientFailure,
            DryRun = false,
            MessagesReceived = 5,
            MessagesDeleted = complete ? 5 : 0,
            EventsReceived = 7,
            EventsDelivered = complete ? 7 : 0,
            VisitorsDelivered = complete ? 9 : 0,
            RequestsSent = 1,
            RequestsAccepted = complete ? 1 : 0,
            BytesSent = 1234,
            DeadLettered = new Dictionary<string, long>(),
            TransientFailures = complete ? 0 : 1,
            LastFailure = complete ? null : "the Event API answered 503",
            ApproximateMessagesLeft = complete ? 0 : 5,
        };
    }

    internal sealed record LogEntry(LogLevel Level, string Message, Exception? Exception);

    /// <summary>Keeps every log line.</summary>
    private sealed class ListLogger : ILogger
    {
        private readonly ConcurrentQueue<LogEntry> _entries = new();

        public IReadOnlyList<LogEntry> Entries => [.. _entries];

        public IReadOnlyList<string> Lines => [.. _entries.Select(e => e.Message)];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue(new LogEntry(logLevel, formatter(state, exception), exception));

        public async Task WaitForAsync(string text)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (!_entries.Any(e => e.Message.Contains(text, StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, $"no log line contains '{text}':{Environment.NewLine}{string.Join(Environment.NewLine, Lines)}");
                await Task.Delay(5);
            }
        }
    }
}
