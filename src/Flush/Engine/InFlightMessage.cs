using System.Buffers;
using System.Text;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// A received message and the count of its parts still unresolved (its decoding, each visitor, each dead
/// letter). Only <see cref="InFlightLedger"/> changes that count and decides what becomes of the message.
/// </summary>
internal sealed class InFlightMessage(string messageId, string receiptHandle, string body, int bytes, long leaseUntil)
{
    // Starts at 1: the decoding itself, resolved once every other part is counted.
    private int _pending = 1;
    private int _failed;
    private byte[]? _utf8;
    private string? _body = body;

    public string MessageId { get; } = messageId;

    public string ReceiptHandle { get; } = receiptHandle;

    /// <summary>The body's UTF-8 size: what the message holds of the run's memory budget.</summary>
    public int Bytes { get; } = bytes;

    /// <summary>Timestamp (TimeProvider ticks) until which the message is invisible to others.</summary>
    public long LeaseUntil
    {
        get => Volatile.Read(ref _leaseUntil);
        set => Volatile.Write(ref _leaseUntil, value);
    }

    private long _leaseUntil = leaseUntil;

    /// <summary>Some part of it will not be accepted or dead-lettered in this run: it must stay in the queue.</summary>
    public bool Failed => Volatile.Read(ref _failed) != 0;

    /// <summary>
    /// The message's UTF-8 text in a pooled buffer; its events' bodies and visitors are slices of it, so
    /// it goes back to the pool only when the message is forgotten (every part resolved). Call once:
    /// it drops the UTF-16 body (twice the bytes, held until the message is deleted otherwise).
    /// </summary>
    public ReadOnlyMemory<byte> RentUtf8()
    {
        string text = Interlocked.Exchange(ref _body, null) ?? throw new InvalidOperationException("The message body was taken already.");
        var buffer = ArrayPool<byte>.Shared.Rent(Bytes);
        Volatile.Write(ref _utf8, buffer);
        int length = Encoding.UTF8.GetBytes(text, buffer);
        return new ReadOnlyMemory<byte>(buffer, 0, length);
    }

    /// <summary>Gives the buffer of <see cref="RentUtf8"/> back; nothing may read the message's events after this.</summary>
    internal void ReturnUtf8()
    {
        Interlocked.Exchange(ref _body, null);
        if (Interlocked.Exchange(ref _utf8, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal void AddPending(int count) => Interlocked.Add(ref _pending, count);

    internal void MarkFailed() => Volatile.Write(ref _failed, 1);

    /// <summary>Resolves one pending part; true when this was the last one.</summary>
    internal bool Release() => Interlocked.Decrement(ref _pending) == 0;
}

/// <summary>One SDK event (LogEvent) inside a message, for counting whole events delivered and for dead-lettering its visitors.</summary>
internal sealed class EventTracker(InFlightMessage message, DecodedEvent decoded, int visitors)
{
    private int _pending = visitors;
    private int _undelivered;

    public InFlightMessage Message { get; } = message;

    public DecodedEvent Decoded { get; } = decoded;

    public void MarkUndelivered() => Volatile.Write(ref _undelivered, 1);

    /// <summary>Resolves one visitor; true when it was the last and every visitor was accepted.</summary>
    public bool ReleaseVisitor() => Interlocked.Decrement(ref _pending) == 0 && Volatile.Read(ref _undelivered) == 0;
}
