using System.Buffers;
using System.Text;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// A received message and what is still pending for it. It is deleted when the last of its
/// visitors is accepted or dead-lettered, and never when any of them failed in this run.
/// </summary>
internal sealed class InFlightMessage(Message message, int bytes, long leaseUntil)
{
    // Starts at 1: the assembler holds a reference until it has handed out every visitor.
    private int _pending = 1;
    private int _failed;
    private byte[]? _utf8;

    public Message Message { get; } = message;

    public int Bytes { get; } = bytes;

    /// <summary>Timestamp (TimeProvider ticks) until which the message is invisible to others.</summary>
    public long LeaseUntil { get; set; } = leaseUntil;

    public bool Failed => Volatile.Read(ref _failed) != 0;

    /// <summary>
    /// The message's UTF-8 text in a pooled buffer; its events' bodies and visitors are slices of it, so
    /// it goes back to the pool only when the message is forgotten (every visitor resolved). Call once:
    /// it drops the SDK's UTF-16 copy of the body (twice the bytes, held until the message is deleted otherwise).
    /// </summary>
    public ReadOnlyMemory<byte> RentUtf8()
    {
        string body = Message.Body ?? "";
        var buffer = ArrayPool<byte>.Shared.Rent(Bytes);
        Volatile.Write(ref _utf8, buffer);
        int length = Encoding.UTF8.GetBytes(body, buffer);
        Message.Body = null; // only the receipt handle and id are needed from here on
        return new ReadOnlyMemory<byte>(buffer, 0, length);
    }

    /// <summary>Gives the buffer of <see cref="RentUtf8"/> back; nothing may read the message's events after this.</summary>
    public void ReturnUtf8()
    {
        if (Interlocked.Exchange(ref _utf8, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void AddPending(int count) => Interlocked.Add(ref _pending, count);

    public void MarkFailed() => Volatile.Write(ref _failed, 1);

    /// <summary>Resolves one pending unit; true when this was the last one.</summary>
    public bool Release() => Interlocked.Decrement(ref _pending) == 0;
}

/// <summary>One SDK event (LogEvent) inside a message, for counting whole events delivered.</summary>
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
