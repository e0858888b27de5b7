using BulkDispatch.Core.Wire;

namespace BulkDispatch.Producer.Buffering;

/// <summary>What travels through the buffer: an event, or a marker that <c>FlushAsync</c> waits on.</summary>
internal sealed class PendingEvent
{
    private PendingEvent(QueuedEvent? e, int bytes, TaskCompletionSource<bool>? marker)
    {
        Event = e;
        Bytes = bytes;
        Marker = marker;
    }

    public QueuedEvent? Event { get; }

    /// <summary>UTF-8 bytes of the body, counted against the buffer's byte bound.</summary>
    public int Bytes { get; }

    public TaskCompletionSource<bool>? Marker { get; }

    public static PendingEvent For(QueuedEvent e, int bytes) => new(e, bytes, null);

    public static PendingEvent NewMarker() => new(null, 0, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
}
