using System.Diagnostics;
using System.Globalization;
using Amazon.Runtime;
using Amazon.SQS;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Queue;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Flush.Engine;

/// <summary>How to run one flush (per call; the settings say everything else).</summary>
public sealed record FlushRunOptions
{
    /// <summary>Decode, group, pack and validate, but neither post nor delete nor dead-letter.</summary>
    public bool DryRun { get; init; }

    /// <summary>A shorter receive budget than <c>BulkDispatch__Flush__MaxDuration</c>, e.g. what is left of a host's timeout.</summary>
    public TimeSpan? MaxDuration { get; init; }

    /// <summary>Called about twice a second with the counts so far (e.g. for a progress line); must return quickly.</summary>
    public Action<FlushProgress>? Progress { get; init; }
}

/// <summary>
/// Runs one flush: drains the event queue into as few Event API requests as allowed and deletes
/// only what Optimizely accepted. Safe to run concurrently with other runs on the same queue
/// (they are competing consumers). Register with <c>AddBulkDispatchFlush</c>.
/// </summary>
public sealed class FlushEngine
{
    private readonly Lazy<SqsCalls> _sqs; // created after the settings are validated
    private readonly OptimizelyClient _client;
    private readonly SettingsValidation _validation;
    private readonly IOptions<SqsOptions> _sqsOptions;
    private readonly IOptions<FlushOptions> _flushOptions;
    private readonly IOptions<OptimizelyOptions> _optimizelyOptions;
    private readonly IOptions<LegacyOptions> _legacyOptions;
    private readonly TimeProvider _time;
    private readonly FlushMetrics _metrics;
    private readonly ILogger<FlushEngine> _logger;

    internal FlushEngine(
        Lazy<SqsCalls> sqs,
        OptimizelyClient client,
        SettingsValidation validation,
        IOptions<SqsOptions> sqsOptions,
        IOptions<FlushOptions> flushOptions,
        IOptions<OptimizelyOptions> optimizelyOptions,
        IOptions<LegacyOptions> legacyOptions,
        TimeProvider time,
        FlushMetrics metrics,
        ILogger<FlushEngine> logger)
    {
        _sqs = sqs;
        _client = client;
        _validation = validation;
        _sqsOptions = sqsOptions;
        _flushOptions = flushOptions;
        _optimizelyOptions = optimizelyOptions;
        _legacyOptions = legacyOptions;
        _time = time;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Runs one flush with the configured settings.</summary>
    /// <param name="cancellationToken">Stops receiving; what was received is still sent, within the run's own deadline.</param>
    /// <exception cref="BulkDispatchConfigurationException">The settings are invalid or the queue cannot be used; nothing was received.</exception>
    public Task<FlushReport> RunAsync(CancellationToken cancellationToken = default) => RunAsync(new FlushRunOptions(), cancellationToken);

    /// <summary>Runs one flush.</summary>
    /// <param name="runOptions">Dry run, or a shorter time budget.</param>
    /// <param name="cancellationToken">Stops receiving; what was received is still sent, within the run's own deadline.</param>
    /// <exception cref="BulkDispatchConfigurationException">The settings are invalid or the queue cannot be used; nothing was received.</exception>
    public async Task<FlushReport> RunAsync(FlushRunOptions runOptions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runOptions);
        _validation.ThrowIfInvalid();
        var started = _time.GetUtcNow();
        long startTimestamp = _time.GetTimestamp();
        string runId = started.ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
        using var activity = FlushMetrics.ActivitySource.StartActivity("flush", ActivityKind.Internal);
        activity?.SetTag("bulkdispatch.run_id", runId);

        var flush = _flushOptions.Value;
        QueueInfo queue;
        try
        {
            queue = await QueueAccess.DescribeAsync(_sqs.Value, _sqsOptions.Value, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or AmazonServiceException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // SQS unreachable or failing before anything was received: transient like any other failure.
            // Nothing was taken from the queue, so nothing is lost; the next run tries again.
            _metrics.TransientFailures.Add(1);
            _logger.LogWarning("Flush {RunId} INCOMPLETE: SQS could not be reached before anything was received ({Failure}); the next run will try again", runId, ex.Message);
            return FlushReport.NotStarted(runId, started, _time.GetElapsedTime(startTimestamp), $"SQS could not be reached: {ex.Message}");
        }

        var maxDuration = runOptions.MaxDuration is { } shorter && shorter < flush.MaxDuration ? shorter : flush.MaxDuration;
        if (maxDuration + flush.SendGrace > TimeSpan.FromSeconds(queue.VisibilityTimeoutSeconds))
        {
            _logger.LogInformation(
                "Flush {RunId}: the run may take {Budget} but the queue's visibility timeout is {Visibility} s; held messages will have their visibility extended",
                runId, maxDuration + flush.SendGrace, queue.VisibilityTimeoutSeconds);
        }

        using var run = new FlushRun(_sqs.Value, _client, flush, _optimizelyOptions.Value, _legacyOptions.Value, queue, _time, _metrics, _logger,
            runOptions.DryRun, runId, maxDuration, cancellationToken)
        {
            Progress = runOptions.Progress,
        };
        var report = await run.RunAsync(started, startTimestamp);
        _metrics.RunDuration.Record(report.Duration.TotalSeconds);
        activity?.SetTag("bulkdispatch.complete", report.Complete);
        _logger.LogInformation(
            "Flush {RunId} finished: complete={Complete} stop={StopReason} dryRun={DryRun} messagesReceived={MessagesReceived} messagesDeleted={MessagesDeleted} " +
            "eventsReceived={EventsReceived} eventsDelivered={EventsDelivered} visitorsDelivered={VisitorsDelivered} requests={RequestsSent} accepted={RequestsAccepted} " +
            "bytes={BytesSent} deadLettered={DeadLettered} transientFailures={TransientFailures} left={ApproximateMessagesLeft} durationMs={DurationMs}",
            report.RunId, report.Complete, report.StopReason, report.DryRun, report.MessagesReceived, report.MessagesDeleted,
            report.EventsReceived, report.EventsDelivered, report.VisitorsDelivered, report.RequestsSent, report.RequestsAccepted,
            report.BytesSent, string.Join(",", report.DeadLettered.Select(p => $"{p.Key}:{p.Value}")), report.TransientFailures,
            report.ApproximateMessagesLeft, (long)report.Duration.TotalMilliseconds);
        return report;
    }
}
