using System.Globalization;
using Amazon.Runtime;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Cli.Serve;

/// <summary>
/// Starts a flush on every tick of a <see cref="FlushSchedule"/>, never two at once: a tick that arrives while a run is
/// in progress is skipped and logged. When the stopping token fires it stops waiting for ticks, passes the cancellation
/// on to the run in flight (which stops receiving and sends what it holds within its own deadline) and waits for it.
/// Time comes from the injected <see cref="TimeProvider"/>, so tests drive it with a fake clock.
/// </summary>
internal sealed partial class FlushScheduler
{
    /// <summary>The longest single wait: a wall clock that jumps (suspend, resume, NTP) is noticed within this.</summary>
    private static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(1);

    private readonly FlushSchedule _schedule;
    private readonly Func<CancellationToken, Task<FlushReport>> _run;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly bool _runOnStart;
    private long _nextTickTicks = long.MinValue;
    private long _runsStarted, _ticksSkipped, _runsFailed;

    /// <param name="schedule">When to run.</param>
    /// <param name="run">One flush; its token stops receiving.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Gets one line per run, per skipped tick, and the start and stop of the service.</param>
    /// <param name="runOnStart">Also run once at once, before the first tick.</param>
    public FlushScheduler(FlushSchedule schedule, Func<CancellationToken, Task<FlushReport>> run, TimeProvider time, ILogger logger, bool runOnStart)
    {
        _schedule = schedule;
        _run = run;
        _time = time;
        _logger = logger;
        _runOnStart = runOnStart;
    }

    /// <summary>The tick being waited for, once the wait has begun (for tests and diagnostics).</summary>
    public DateTimeOffset? NextTick
    {
        get
        {
            long ticks = Interlocked.Read(ref _nextTickTicks);
            return ticks == long.MinValue ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <summary>Runs started so far.</summary>
    public long RunsStarted => Interlocked.Read(ref _runsStarted);

    /// <summary>Ticks skipped because a run was in progress.</summary>
    public long TicksSkipped => Interlocked.Read(ref _ticksSkipped);

    /// <summary>Runs that ended with an exception instead of a report.</summary>
    public long RunsFailed => Interlocked.Read(ref _runsFailed);

    /// <summary>Ticks until <paramref name="stoppingToken"/> fires, then waits for the run in flight.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        Task? inFlight = null;
        DateTimeOffset inFlightStarted = default;
        var last = _time.GetUtcNow();
        LogServing(_logger, _schedule.ToString(), Format(_schedule.Next(last)), _runOnStart);
        try
        {
            if (_runOnStart)
            {
                inFlightStarted = last;
                inFlight = StartRun("start", last, stoppingToken);
            }

            while (true)
            {
                var tick = _schedule.Next(last);
                await WaitUntilAsync(tick, stoppingToken);
                var now = _time.GetUtcNow();
                last = tick;
                var following = _schedule.Next(tick);
                if (following < now - TimeSpan.FromSeconds(1))
                {
                    // The process was not scheduled for a while (suspended, clock jumped): one run for the missed ticks.
                    LogMissedTicks(_logger, Format(tick), Format(now));
                    last = now;
                }

                if (inFlight is { IsCompleted: false })
                {
                    Interlocked.Increment(ref _ticksSkipped);
                    LogTickSkipped(_logger, Format(tick), Format(inFlightStarted), Format(_schedule.Next(last)));
                    continue;
                }

                inFlightStarted = _time.GetUtcNow();
                inFlight = StartRun(Format(tick), inFlightStarted, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        Interlocked.Exchange(ref _nextTickTicks, long.MinValue);
        if (inFlight is { IsCompleted: false })
        {
            LogStoppingWithRun(_logger, Format(inFlightStarted));
            await inFlight;
        }

        LogStopped(_logger, RunsStarted, TicksSkipped);
    }

    /// <summary>Waits for <paramref name="tick"/> by the injected clock, in steps of at most <see cref="MaxWait"/>.</summary>
    private async Task WaitUntilAsync(DateTimeOffset tick, CancellationToken stoppingToken)
    {
        while (true)
        {
            var remaining = tick - _time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            // The timer exists before NextTick says so: a test that sees NextTick can advance its clock past it.
            var wait = Task.Delay(remaining < MaxWait ? remaining : MaxWait, _time, stoppingToken);
            Interlocked.Exchange(ref _nextTickTicks, tick.UtcTicks);
            await wait;
        }
    }

    private Task StartRun(string tick, DateTimeOffset started, CancellationToken stoppingToken)
    {
        Interlocked.Increment(ref _runsStarted);
        return Task.Run(() => RunOnceAsync(tick, started, stoppingToken), CancellationToken.None);
    }

    /// <summary>One run, and its one log line. Never throws: a failed run is logged and the schedule goes on.</summary>
    private async Task RunOnceAsync(string tick, DateTimeOffset started, CancellationToken stoppingToken)
    {
        try
        {
            var report = await _run(stoppingToken);
            var finished = _time.GetUtcNow();

            // The engine logs the run's report (its counts) once; this line says only when the run ran and how it ended.
            if (report.Complete)
            {
                LogRunComplete(_logger, report.RunId, tick, Format(started), Format(finished), report.StopReason);
            }
            else
            {
                LogRunIncomplete(_logger, report.RunId, tick, Format(started), Format(finished), report.StopReason, report.LastFailure ?? "none");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped before anything was received (e.g. while describing the queue).
            LogRunCancelled(_logger, tick, Format(started), Format(_time.GetUtcNow()));
        }
        catch (BulkDispatchConfigurationException ex)
        {
            Interlocked.Increment(ref _runsFailed);
            LogRunNotConfigured(_logger, tick, Format(started), Format(_time.GetUtcNow()), ex.Message);
        }
        catch (Exception ex) when (ex is AmazonServiceException or AmazonClientException or HttpRequestException or IOException or OperationCanceledException)
        {
            // SQS unreachable or refusing (the engine handles such failures itself once it is receiving).
            Interlocked.Increment(ref _runsFailed);
            LogRunUnreachable(_logger, tick, Format(started), Format(_time.GetUtcNow()), $"{ex.GetType().Name}: {ex.Message}");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _runsFailed);
            LogRunFailed(_logger, ex, tick, Format(started), Format(_time.GetUtcNow()));
        }
    }

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving: flush on schedule {Schedule}; first tick at {FirstTick}{RunOnStartNote}")]
    private static partial void LogServing(ILogger logger, string schedule, string firstTick, string runOnStartNote);

    private static void LogServing(ILogger logger, string schedule, string firstTick, bool runOnStart) =>
        LogServing(logger, schedule, firstTick, runOnStart ? "; running once now (--run-on-start)" : "");

    [LoggerMessage(Level = LogLevel.Information, Message = "Flush run {RunId} complete: tick={Tick} started={Started} finished={Finished} stop={StopReason}")]
    private static partial void LogRunComplete(ILogger logger, string runId, string tick, string started, string finished, FlushStopReason stopReason);

    [LoggerMessage(Level = LogLevel.Warning, Message =
        "Flush run {RunId} INCOMPLETE: tick={Tick} started={Started} finished={Finished} stop={StopReason} lastFailure=\"{LastFailure}\"; undelivered messages stay in the queue for the next run")]
    private static partial void LogRunIncomplete(ILogger logger, string runId, string tick, string started, string finished, FlushStopReason stopReason, string lastFailure);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tick {Tick} skipped: a run is in progress (started={Started}); next tick at {NextTick}")]
    private static partial void LogTickSkipped(ILogger logger, string tick, string started, string nextTick);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tick {Tick} was handled late (at {Now}): the ticks in between were missed; the schedule resumes from now")]
    private static partial void LogMissedTicks(ILogger logger, string tick, string now);

    [LoggerMessage(Level = LogLevel.Information, Message = "Flush run cancelled before receiving anything: tick={Tick} started={Started} finished={Finished}")]
    private static partial void LogRunCancelled(ILogger logger, string tick, string started, string finished);

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush run failed: tick={Tick} started={Started} finished={Finished}; nothing was received. {Problem}")]
    private static partial void LogRunNotConfigured(ILogger logger, string tick, string started, string finished, string problem);

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush run failed: tick={Tick} started={Started} finished={Finished}: {Error}. Messages it held stay in the queue; the next tick tries again")]
    private static partial void LogRunUnreachable(ILogger logger, string tick, string started, string finished, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush run failed with an unexpected error: tick={Tick} started={Started} finished={Finished}; the schedule goes on")]
    private static partial void LogRunFailed(ILogger logger, Exception exception, string tick, string started, string finished);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: no more ticks; waiting for the run in flight (started={Started}) to send what it received")]
    private static partial void LogStoppingWithRun(ILogger logger, string started);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped after {Runs} run(s) and {Skipped} skipped tick(s)")]
    private static partial void LogStopped(ILogger logger, long runs, long skipped);
}
