using BulkDispatch.Producer.Diagnostics;

namespace BulkDispatch.Producer.Buffering;

/// <summary>Why an event was refused: it can never be delivered.</summary>
internal enum RefusalKind
{
    /// <summary>No URL or no body.</summary>
    Missing,

    /// <summary>Larger than the largest message the queue takes.</summary>
    TooLarge,

    /// <summary>The body is not valid JSON.</summary>
    InvalidJson,

    /// <summary>SQS rejected the message holding it as invalid (the sender's fault).</summary>
    RejectedBySqs,

    /// <summary>TryPublish failed unexpectedly.</summary>
    Error,
}

/// <summary>Why an event was dropped: it might have been delivered with more room or more time.</summary>
internal enum DropReason
{
    /// <summary>The buffer was full (after <c>BlockTimeout</c>, with <see cref="OverflowPolicy.Block"/>).</summary>
    BufferFull,

    /// <summary>Published after the publisher was disposed.</summary>
    Disposed,

    /// <summary>Still held when <c>DisposeTimeout</c> ran out.</summary>
    DisposeDeadline,
}

/// <summary>
/// Settles events: every event <c>TryPublish</c> accepts ends exactly once as sent, dropped or refused, and settling it
/// releases it from the buffer (waking callers waiting for room) and counts it. So at any time
/// Published = Sent + Dropped + Refused + Buffered, counting only accepted events on the left.
/// </summary>
internal sealed class EventOutcomes(BufferAccounting buffer, ProducerMetrics metrics, ProducerWarnings warnings)
{
    /// <summary>TryPublish buffered an event.</summary>
    public void Published() => metrics.Published();

    /// <summary>TryPublish did not take an event (nothing was held): counted as dropped.</summary>
    public void NotTaken(DropReason reason)
    {
        metrics.Dropped(1, reason);
        warnings.Dropped(1);
    }

    /// <summary>TryPublish refused an event (nothing was held); the caller logs why.</summary>
    public void NotTaken(RefusalKind kind) => metrics.Refused(1, kind);

    /// <summary>SQS stored these held events.</summary>
    public void Sent(long bytes, int events)
    {
        buffer.Release(bytes, events);
        metrics.Sent(events);
    }

    /// <summary>These held events are lost (the dispose deadline passed).</summary>
    public void Dropped(long bytes, long events, DropReason reason)
    {
        buffer.Release(bytes, events);
        metrics.Dropped(events, reason);
        warnings.Dropped(events);
    }

    /// <summary>These held events can never be delivered; the caller logs why.</summary>
    public void Refused(long bytes, long events, RefusalKind kind)
    {
        buffer.Release(bytes, events);
        metrics.Refused(events, kind);
    }

    /// <summary>Everything still held is lost now (the publisher is disposed): counted as dropped; returns how many.</summary>
    public long Abandon()
    {
        long lost = buffer.ReleaseAll();
        if (lost > 0)
        {
            metrics.Dropped(lost, DropReason.DisposeDeadline);
        }

        return lost;
    }
}
