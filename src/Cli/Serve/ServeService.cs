using BulkDispatch.Flush.Engine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Cli.Serve;

/// <summary>What <c>bulkdispatch serve</c> was asked to do, besides the settings.</summary>
/// <param name="Schedule">When to run.</param>
/// <param name="RunOnStart">Run once at start too.</param>
internal sealed record ServeOptions(FlushSchedule Schedule, bool RunOnStart);

/// <summary>The generic-host service behind <c>bulkdispatch serve</c>: a <see cref="FlushScheduler"/> around the flush engine.</summary>
internal sealed class ServeService(ServeOptions options, FlushEngine engine, TimeProvider time, ILogger<ServeService> logger) : BackgroundService
{
    /// <summary>The log category of the run lines (shown without <c>--verbose</c>).</summary>
    public const string LogCategory = "BulkDispatch.Cli.Serve";

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var scheduler = new FlushScheduler(
            options.Schedule,
            token => engine.RunAsync(new FlushRunOptions(), token),
            time,
            logger,
            options.RunOnStart);
        return scheduler.RunAsync(stoppingToken);
    }
}
