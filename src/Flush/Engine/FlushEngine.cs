using System.Diagnostics;
using System.Globalization;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Credentials;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Engine.Stages;
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
/// (they are competing consumers). Register with <c>AddBulkDispatchFlush</c>. Each run logs its
/// report as one structured line (<c>Flush RUNID finished: complete=... drained=...</c>); hosts need not log it again.
/// </summary>
public sealed partial class FlushEngine
{
    private readonly Lazy<SqsGateway> _sqs; // created after the settings are validated
    private readonly OptimizelyClient _client;
    private readonly SettingsValidation _validation;
    private readonly IOptions<SqsOptions> _sqsOptions;
    private readonly IOptions<FlushOptions> _flushOptions;
    private readonly IOptions<OptimizelyOptions> _optimizelyOptions;
    private readonly IOptions<LegacyOptions> _legacyOptions;
    private readonly TimeProvider _time;
    private readonly FlushMetrics _metrics;
    private readonly ILogger<FlushEngine> _logger;
    private readonly SqsRetryPolicy _receiveRetry;

    internal FlushEngine(
        Lazy<SqsGateway> sqs,
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
        _receiveRetry = SqsQueueClient.ReceiveRetry(logger); // one instance: the gateway builds a pipeline per policy
    }

    /// <summary>
    /// Checks every setting the flush reads and throws one exception listing each bad one, naming it with a valid example.
    /// <see cref="RunAsync(FlushRunOptions, CancellationToken)"/> does this first; a host calls it to fail before it
    /// schedules anything (the CLI exits 2).
    /// </summary>
    /// <exception cref="BulkDispatchConfigurationException">A setting is missing or invalid.</exception>
    public void ThrowIfSettingsInvalid() => _validation.ThrowIfInvalid();

    /// <summary>Runs one flush with the configured settings.</summary>
    /// <param name="cancellationToken">Stops receiving; what was received is still sent, within the run's own deadline.</param>
    /// <exception cref="BulkDispatchConfigurationException">
    /// The settings are invalid or the queue cannot be used (nothing was received); or a configuration error stopped the
    /// run midway (e.g. Key Vault refused the credentials when they were read again): what was received and not yet
    /// deleted comes back after its visibility timeout.
    /// </exception>
    public Task<FlushReport> RunAsync(CancellationToken cancellationToken = default) => RunAsync(new FlushRunOptions(), cancellationToken);

    /// <summary>Runs one flush.</summary>
    /// <param name="runOptions">Dry run, or a shorter time budget.</param>
    /// <param name="cancellationToken">Stops receiving; what was received is still sent, within the run's own deadline.</param>
    /// <exception cref="BulkDispatchConfigurationException">
    /// The settings are invalid or the queue cannot be used (nothing was received); or a configuration error stopped the
    /// run midway (e.g. Key Vault refused the credentials when they were read again): what was received and not yet
    /// deleted comes back after its visibility timeout.
    /// </exception>
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
        SqsQueueDescription queue;
        try
        {
            queue = await QueueAccess.DescribeAsync(_sqs.Value, _sqsOptions.Value, cancellationToken);
        }
        catch (SqsRequestFailedException ex)
        {
            // SQS unreachable or failing before anything was received: transient like any other failure.
            // Nothing was taken from the queue, so nothing is lost; the next run tries again.
            _metrics.TransientFailures.Add(1);
            string failure = VaultFailure(ex)?.Message ?? $"SQS could not be reached: {ex.InnerException?.Message ?? ex.Message}";
            LogNotStarted(_logger, runId, failure);
            return Finish(FlushReport.NotStarted(runId, started, _time.GetElapsedTime(startTimestamp), failure), activity);
        }

        var maxDuration = runOptions.MaxDuration is { } shorter && shorter < flush.MaxDuration ? shorter : flush.MaxDuration;
        if (maxDuration + flush.SendGrace > TimeSpan.FromSeconds(queue.VisibilityTimeoutSeconds))
        {
            LogLeasesExtended(_logger, runId, maxDuration + flush.SendGrace, queue.VisibilityTimeoutSeconds);
        }

        var counters = new RunCounters(_metrics);
        var run = new FlushRun(Seams(queue, flush), new EventApiSink(_client, counters), Settings(flush, queue, maxDuration, runOptions.DryRun, runId), _time, counters, _logger)
        {
            Progress = runOptions.Progress,
        };
        return Finish(await run.RunAsync(started, startTimestamp, cancellationToken), activity);
    }

    // The vault's own message names its setting; prefixing it with "SQS could not be reached" would point the operator at the wrong service.
    private static KeyVaultUnavailableException? VaultFailure(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is KeyVaultUnavailableException vault)
            {
                return vault;
            }
        }

        return null;
    }

    private QueueSeams Seams(SqsQueueDescription queue, FlushOptions flush)
    {
        var sqs = new SqsQueueClient(_sqs.Value, queue.QueueUrl, flush.ReceiveTimeoutMargin, _receiveRetry);
        IDeadLetterQueue deadLetters = queue.DeadLetterQueueUrl is { } url ? new SqsDeadLetterQueue(_sqs.Value, url) : new MissingDeadLetterQueue();
        return new QueueSeams(sqs, sqs, sqs, deadLetters, sqs);
    }

    private RunSettings Settings(FlushOptions flush, SqsQueueDescription queue, TimeSpan maxDuration, bool dryRun, string runId)
    {
        var legacy = _legacyOptions.Value;
        return new RunSettings(
            flush.ReceiveConcurrency, flush.ReceiveWaitTime, flush.MaxMessagesPerRun, flush.MaxBufferedBytes,
            flush.BatchLinger, flush.SendConcurrency, maxDuration, flush.SendGrace, queue.VisibilityTimeoutSeconds, queue.MaxMessageBytes,
            new AdmissionRules(_optimizelyOptions.Value.AllowedEndpointUris(), legacy.ToHeader(), legacy.MissingSettings(), flush.MaxRequestBytes),
            dryRun, runId);
    }

    /// <summary>The run's one report line, its duration metric and span tag.</summary>
    private FlushReport Finish(FlushReport report, Activity? activity)
    {
        _metrics.RunDuration.Record(report.Duration.TotalSeconds);
        activity?.SetTag("bulkdispatch.complete", report.Complete);
        LogReport(
            _logger, report.RunId, report.Complete, report.StopReason, report.QueueDrained, report.DryRun, report.MessagesReceived, report.MessagesDeleted,
            report.EventsReceived, report.EventsDelivered, report.VisitorsDelivered, report.RequestsSent, report.RequestsAccepted,
            report.BytesSent, string.Join(",", report.DeadLettered.Select(p => $"{p.Key}:{p.Value}")), report.TransientFailures,
            report.ApproximateMessagesLeft, report.AbandonedReceives, (long)report.Duration.TotalMilliseconds, report.LastFailure ?? "none");
        return report;
    }

    [LoggerMessage(Level = LogLevel.Information, Message =
        "Flush {RunId} finished: complete={Complete} stop={StopReason} drained={Drained} dryRun={DryRun} messagesReceived={MessagesReceived} messagesDeleted={MessagesDeleted} " +
        "eventsReceived={EventsReceived} eventsDelivered={EventsDelivered} visitorsDelivered={VisitorsDelivered} requests={RequestsSent} accepted={RequestsAccepted} " +
        "bytes={BytesSent} deadLettered={DeadLettered} transientFailures={TransientFailures} left={ApproximateMessagesLeft} abandonedReceives={AbandonedReceives} durationMs={DurationMs} lastFailure=\"{LastFailure}\"")]
    private static partial void LogReport(
        ILogger logger, string runId, bool complete, FlushStopReason stopReason, bool drained, bool dryRun, long messagesReceived, long messagesDeleted,
        long eventsReceived, long eventsDelivered, long visitorsDelivered, long requestsSent, long requestsAccepted,
        long bytesSent, string deadLettered, long transientFailures, long? approximateMessagesLeft, long abandonedReceives, long durationMs, string lastFailure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: nothing was received; {Failure}")]
    private static partial void LogNotStarted(ILogger logger, string runId, string failure);

    [LoggerMessage(Level = LogLevel.Information, Message = "Flush {RunId}: the run may take {Budget} but the queue's visibility timeout is {Visibility} s; held messages will have their visibility extended")]
    private static partial void LogLeasesExtended(ILogger logger, string runId, TimeSpan budget, int visibility);
}
