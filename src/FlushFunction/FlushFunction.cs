using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Hosting;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BulkDispatch.FlushFunction;

/// <summary>The timer: one flush per <c>FlushSchedule</c> tick, ending before the host's functionTimeout.</summary>
/// <remarks>Public because the Functions worker only indexes public classes and methods.</remarks>
public sealed class FlushFunction(FlushEngine engine, IOptions<FlushOptions> flushOptions, ILogger<FlushFunction> logger)
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
    /// <param name="cancellationToken">The host's token; not relied on: the run keeps its own deadline.</param>
    [Function("Flush")]
    public async Task RunAsync([TimerTrigger("%FlushSchedule%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        if (timer.IsPastDue)
        {
            logger.LogWarning("Flush timer is past due (last run {Last}); running now", timer.ScheduleStatus?.Last);
        }

        // The engine logs the run's report as one structured line and throws
        // BulkDispatchConfigurationException (naming each bad setting) before receiving anything.
        var budget = HostTimeBudget.ReceiveBudget(FunctionTimeout.Value, flushOptions.Value);
        var report = await engine.RunAsync(new FlushRunOptions { MaxDuration = budget }, cancellationToken);
        logger.LogInformation(
            "Flush function run {RunId} {Outcome}: {Delivered} events delivered, {DeadLettered} dead-lettered, stopped because {StopReason}; next tick {Next}",
            report.RunId,
            report.Complete ? "complete" : "incomplete (the rest stays queued for the next tick)",
            report.EventsDelivered,
            report.DeadLettered.Values.Sum(),
            report.StopReason,
            timer.ScheduleStatus?.Next);
    }
}
