using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace BulkDispatch.Flush.Reporting;

/// <summary>The flush's counts as OpenTelemetry-friendly instruments on the <c>BulkDispatch.Flush</c> meter.</summary>
internal sealed class FlushMetrics
{
    public const string MeterName = "BulkDispatch.Flush";

    /// <summary>Traces one span per run.</summary>
    public static readonly ActivitySource ActivitySource = new(MeterName);

    public FlushMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        MessagesReceived = meter.CreateCounter<long>("bulkdispatch.flush.messages.received", "{message}", "SQS messages received");
        MessagesDeleted = meter.CreateCounter<long>("bulkdispatch.flush.messages.deleted", "{message}", "SQS messages deleted after delivery");
        EventsDelivered = meter.CreateCounter<long>("bulkdispatch.flush.events.delivered", "{event}", "SDK events all of whose visitors were accepted");
        VisitorsDelivered = meter.CreateCounter<long>("bulkdispatch.flush.visitors.delivered", "{visitor}", "Visitors accepted by the Event API");
        Requests = meter.CreateCounter<long>("bulkdispatch.flush.requests", "{request}", "Event API requests, by outcome");
        BytesSent = meter.CreateCounter<long>("bulkdispatch.flush.bytes.sent", "By", "Event API request body bytes");
        DeadLettered = meter.CreateCounter<long>("bulkdispatch.flush.dead_lettered", "{message}", "Messages sent to the dead-letter queue, by reason");
        TransientFailures = meter.CreateCounter<long>("bulkdispatch.flush.transient_failures", "{failure}", "Failures left for a later run");
        ReceivesAbandoned = meter.CreateCounter<long>("bulkdispatch.flush.receives.abandoned", "{receive}", "Receive attempts abandoned in flight (timed out or cancelled): SQS may have leased messages to them");
        RunDuration = meter.CreateHistogram<double>("bulkdispatch.flush.run.duration", "s", "Duration of flush runs");
    }

    public Counter<long> MessagesReceived { get; }
    public Counter<long> MessagesDeleted { get; }
    public Counter<long> EventsDelivered { get; }
    public Counter<long> VisitorsDelivered { get; }
    public Counter<long> Requests { get; }
    public Counter<long> BytesSent { get; }
    public Counter<long> DeadLettered { get; }
    public Counter<long> TransientFailures { get; }
    public Counter<long> ReceivesAbandoned { get; }
    public Histogram<double> RunDuration { get; }
}
