using System.Threading.Channels;

namespace BulkDispatch.Producer.Buffering;

/// <summary>
/// The hand-off between the callers of <c>TryPublish</c> (many writers) and the pump (one reader): a channel of events
/// and flush markers. The channel itself is unbounded; <see cref="Accounting"/> bounds what is held, events in batches
/// and in sends included, so an event enters the channel only with a reservation.
/// </summary>
internal sealed class EventBuffer
{
    // Not SingleReader, although the pump is the only reader: that variant cannot count, and the pump's linger does.
    private readonly Channel<PendingEvent> _channel = Channel.CreateUnbounded<PendingEvent>();

    public EventBuffer(ProducerOptions options, TimeProvider time) =>
        Accounting = new BufferAccounting(options.BufferCapacity, options.BufferBytes, time);

    public BufferAccounting Accounting { get; }

    /// <summary>What the pump reads.</summary>
    public ChannelReader<PendingEvent> Reader => _channel.Reader;

    /// <summary>Buffers the event if there is room now; false (nothing held) otherwise or after <see cref="Complete"/>.</summary>
    public bool TryAdd(PendingEvent item) => Accounting.TryReserve(item.Bytes) && Write(item);

    /// <summary>Buffers the event, waiting up to <paramref name="wait"/> for room; false (nothing held) when none came.</summary>
    public bool TryAdd(PendingEvent item, TimeSpan wait) => Accounting.TryReserve(item.Bytes, wait) && Write(item);

    /// <summary>Queues a flush marker behind every event buffered so far; false after <see cref="Complete"/>.</summary>
    public bool TryAddMarker(PendingEvent marker) => _channel.Writer.TryWrite(marker);

    /// <summary>No more events or markers: the pump ends after what is in the channel, and waiting callers give up.</summary>
    public void Complete()
    {
        _channel.Writer.TryComplete();
        Accounting.Close();
    }

    private bool Write(PendingEvent item)
    {
        if (_channel.Writer.TryWrite(item))
        {
            return true;
        }

        // Completed meanwhile: the publisher is being disposed, the event is not held.
        Accounting.Release(item.Bytes, 1);
        return false;
    }
}
