using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Hosting;
using BulkDispatch.Flush.Reporting;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BulkDispatch.FlushFunction;

/// <summary>The timer: one flush per <c>FlushSchedule</c> tick, ending before the host's functionTimeout.</summary>
/// <remarks>Public because the Functions worker only indexes public classes and methods.</remarks>
public sealed partial class FlushFunction(FlushEngine engine, IOptions<FlushOptions> flushOptions, ILogger<FlushFunction> logger)
{
    // Read once: host.json sits beside the worker, and the override arrives as an app setting.
    private static readonly Lazy<TimeSpan?> FunctionTimeout = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "host.json");
        return HostTimeBudget.ReadFunctionTimeout(
            Environment.GetEnvironmentVariable(HostTimeBudget.FunctionTimeoutOverride),
            File.Exists(path) ? File.ReadAllText(path) : null);
    });

    /// <summary>Runs one flush for this tick; a past-due tick is logged and run at once.</summary>
    /// <param name="timer">The tick (past due or not, the next occurrence).</param>
    /// <param name="cancellationToken">
    /// Cancelled when the host sends <c>InvocationCancel</c> (it is stopping, or functionTimeout passed): receiving stops and
    /// what was received is still sent. The run does not wait for it: its own deadline ends before functionTimeout.
    /// </param>
    /// <exception cref="BulkDispatchConfigurationException">
    /// The settings are invalid: nothing was received, and the invocation fails with every bad setting named.
    /// </exception>
    [Function("Flush")]
    public async Task RunAsync([TimerTrigger("%FlushSchedule%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(timer);
        if (timer.IsPastDue)
        {
            LogPastDue(logger, timer.ScheduleStatus?.Last);
        }

        var report = await engine.RunAsync(new FlushRunOptions { MaxDuration = ReceiveBudget() }, cancellationToken);
        var next = timer.ScheduleStatus?.Next;

        // The engine logged the run's report (its counts) once; this line says only how the run ended and why.
        if (report.QueueDrained && report.Complete)
        {
            LogDrained(logger, report.RunId, next);
        }
        else
        {
            LogNotDrained(logger, report.RunId, report.StopReason, WhyNotDrained(report), next);
        }
    }

    /// <summary>What functionTimeout leaves for receiving; <see langword="null"/> while the settings do not bind.</summary>
    private TimeSpan? ReceiveBudget()
    {
        FlushOptions flush;
        try
        {
            flush = flushOptions.Value;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
        {
            // A value out of range or one the binder cannot read (InvalidOperationException): the engine's own
            // check, the first thing RunAsync does, names it with every other bad setting and fails the invocation.
            return null;
        }

        return HostTimeBudget.ReceiveBudget(FunctionTimeout.Value, flush);
    }

    private static string WhyNotDrained(FlushReport report)
    {
        string why = report.StopReason switch
        {
            FlushStopReason.MaxDuration => "the run's time budget ran out (BulkDispatch__Flush__MaxDuration, or what functionTimeout leaves)",
            FlushStopReason.Cancelled => "the host cancelled the invocation (it is stopping, or functionTimeout passed)",
            FlushStopReason.MessageLimit => "BulkDispatch__Flush__MaxMessagesPerRun messages were received",
            FlushStopReason.TransientFailure => "the Event API or SQS kept failing",
            _ when report.AbandonedReceives > 0 => report.StopDescription,
            _ => "the queue answered empty but not everything received was delivered",
        };
        return report.LastFailure is { } failure ? $"{why} (last failure: {failure})" : why;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush timer is past due (last run {Last}); running now")]
    private static partial void LogPastDue(ILogger logger, DateTime? last);

    [LoggerMessage(Level = LogLevel.Information, Message = "Flush function run {RunId}: queue drained; next tick {Next}")]
    private static partial void LogDrained(ILogger logger, string runId, DateTime? next);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Flush function run {RunId}: queue NOT drained, stopped ({StopReason}) because {Why}; what is left waits for the next tick {Next}")]
    private static partial void LogNotDrained(ILogger logger, string runId, FlushStopReason stopReason, string why, DateTime? next);
}
