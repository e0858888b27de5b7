using System.Collections.Concurrent;
using BulkDispatch.Flush.Delivery;

namespace BulkDispatch.Flush.Reporting;

/// <summary>
/// One run's counts, and the only place that updates them and the <c>BulkDispatch.Flush</c> meters, so the
/// report and the metrics cannot disagree. Thread-safe.
/// </summary>
internal sealed class RunCounters(FlushMetrics metrics)
{
    private readonly ConcurrentDictionary<string, long> _deadLettered = new(StringComparer.Ordinal);
    private long _messagesReceived, _messagesDeleted, _eventsReceived, _eventsDelivered, _visitorsDelivered;
    private long _requestsSent, _requestsAccepted, _bytesSent, _transientFailures, _abandonedReceives, _messagesMaybeLeased;
    private string? _lastFailure;

    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);
    public long MessagesDeleted => Interlocked.Read(ref _messagesDeleted);
    public long EventsReceived => Interlocked.Read(ref _eventsReceived);
    public long EventsDelivered => Interlocked.Read(ref _eventsDelivered);
    public long VisitorsDelivered => Interlocked.Read(ref _visitorsDelivered);
    public long RequestsSent => Interlocked.Read(ref _requestsSent);
    public long RequestsAccepted => Interlocked.Read(ref _requestsAccepted);
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long TransientFailures => Interlocked.Read(ref _transientFailures);
    public long AbandonedReceives => Interlocked.Read(ref _abandonedReceives);
    public long MessagesMaybeLeased => Interlocked.Read(ref _messagesMaybeLeased);
    public string? LastFailure => Volatile.Read(ref _lastFailure);

    /// <summary>Dead-lettered (or, in a dry run, would-be dead-lettered) messages by reason, sorted.</summary>
    public IReadOnlyDictionary<string, long> DeadLetteredByReason => new SortedDictionary<string, long>(_deadLettered, StringComparer.Ordinal);

    public long DeadLetteredTotal => _deadLettered.Values.Sum();

    public void Received(int messages)
    {
        Interlocked.Add(ref _messagesReceived, messages);
        metrics.MessagesReceived.Add(messages);
    }

    public void Deleted(int messages)
    {
        Interlocked.Add(ref _messagesDeleted, messages);
        metrics.MessagesDeleted.Add(messages);
    }

    public void EventDecoded() => Interlocked.Increment(ref _eventsReceived);

    /// <summary>An event with no visitor at all: nothing in it to send, so it counts as delivered.</summary>
    public void EmptyEventDelivered()
    {
        Interlocked.Increment(ref _eventsDelivered);
        metrics.EventsDelivered.Add(1);
    }

    /// <summary>A request is about to go to the Event API.</summary>
    public void RequestSent(int bytes)
    {
        Interlocked.Increment(ref _requestsSent);
        Interlocked.Add(ref _bytesSent, bytes);
        metrics.BytesSent.Add(bytes);
    }

    /// <summary>The Event API's final answer to a request (after its retries).</summary>
    public void RequestAnswered(DeliveryStatus status)
    {
        metrics.Requests.Add(1, new KeyValuePair<string, object?>("outcome", status.ToString()));
        if (status == DeliveryStatus.Accepted)
        {
            Interlocked.Increment(ref _requestsAccepted);
        }
    }

    /// <summary>Optimizely accepted <paramref name="visitors"/> visitors, completing <paramref name="events"/> events.</summary>
    public void Delivered(int visitors, int events)
    {
        Interlocked.Add(ref _visitorsDelivered, visitors);
        metrics.VisitorsDelivered.Add(visitors);
        if (events > 0)
        {
            Interlocked.Add(ref _eventsDelivered, events);
            metrics.EventsDelivered.Add(events);
        }
    }

    public void DeadLettered(string reason)
    {
        _deadLettered.AddOrUpdate(reason, 1, static (_, n) => n + 1);
        metrics.DeadLettered.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>Something was left for a later run: a request or receives that failed after their retries, a dead letter not placed, a bug.</summary>
    public void TransientFailure(string what)
    {
        Interlocked.Increment(ref _transientFailures);
        metrics.TransientFailures.Add(1);
        Volatile.Write(ref _lastFailure, what);
    }

    /// <summary>
    /// A receive attempt asking for <paramref name="asked"/> messages was given up while SQS may have been serving it
    /// (timed out, or cancelled in flight): they may be leased to nobody until the visibility timeout passes.
    /// <paramref name="what"/>, when given, becomes the last failure (it is no transient failure: the receive may have been retried).
    /// </summary>
    public void ReceiveAbandoned(int asked, string? what)
    {
        Interlocked.Increment(ref _abandonedReceives);
        Interlocked.Add(ref _messagesMaybeLeased, asked);
        metrics.ReceivesAbandoned.Add(1);
        if (what is not null)
        {
            Volatile.Write(ref _lastFailure, what);
        }
    }

    public FlushProgress Progress(TimeSpan elapsed, long bufferedBytes) =>
        new(elapsed, MessagesReceived, MessagesDeleted, VisitorsDelivered, RequestsSent, DeadLetteredTotal, bufferedBytes);
}
