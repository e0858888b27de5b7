using System.Buffers;
using System.Text;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// A received message and the count of its parts still unresolved (its decoding, each visitor, each dead
/// letter). Only <see cref="InFlightLedger"/> changes that count and decides what becomes of the message.
/// It holds its bytes in pooled buffers (<see cref="MessageBuffers"/>): the UTF-8 text, copied from the AWS SDK's
/// string as it arrives (the string, twice the bytes, is not kept), and for version 2 the decompressed payload that
/// replaces the text once decoded. Its events' bodies and visitors are slices of one of them, so they go back to the
/// pool only when the message is forgotten (every part resolved).
/// </summary>
internal sealed class InFlightMessage
{
    private readonly MessageBuffers _buffers;
    private readonly int _textLength;

    // Starts at 1: the decoding itself, resolved once every other part is counted.
    private int _pending = 1;
    private int _failed;
    private byte[]? _text;
    private IMemoryOwner<byte>? _payload;
    private long _bytes;
    private long _leaseUntil;

    // A declared payload over maxPayloadBytes is not charged: the decoder refuses it without a rent.
    public InFlightMessage(string messageId, string receiptHandle, string body, long leaseUntil, MessageBuffers buffers, int maxPayloadBytes = WireFormat.MaxPayloadBytes)
    {
        MessageId = messageId;
        ReceiptHandle = receiptHandle;
        _leaseUntil = leaseUntil;
        _buffers = buffers;
        _text = buffers.RentArray(Encoding.UTF8.GetByteCount(body));
        _textLength = Encoding.UTF8.GetBytes(body, _text);

        // A version-2 message is charged what it will hold once decoded, before it is: receivers then wait for that room.
        long declared = CompressedEnvelope.DeclaredSize(_text.AsSpan(0, _textLength));
        _bytes = _text.Length + (declared <= maxPayloadBytes ? declared : 0);
    }

    public string MessageId { get; }

    public string ReceiptHandle { get; }

    /// <summary>What the message holds of the run's memory budget: the pooled arrays it holds, or will once decoded.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Timestamp (TimeProvider ticks) until which the message is invisible to others.</summary>
    public long LeaseUntil
    {
        get => Volatile.Read(ref _leaseUntil);
        set => Volatile.Write(ref _leaseUntil, value);
    }

    /// <summary>Some part of it will not be accepted or dead-lettered in this run: it must stay in the queue.</summary>
    public bool Failed => Volatile.Read(ref _failed) != 0;

    /// <summary>The body's UTF-8 text; version-1 events are slices of it. Gone once a version-2 payload replaced it.</summary>
    public ReadOnlyMemory<byte> Text =>
        Volatile.Read(ref _text) is { } text ? new ReadOnlyMemory<byte>(text, 0, _textLength) : throw new InvalidOperationException("The message text went back to the pool.");

    /// <summary>Where the decoder takes a version-2 payload from.</summary>
    public MemoryPool<byte> Payloads => _buffers;

    /// <summary>
    /// Keeps the decoded version-2 payload (its events are slices of it, none of the text) and gives the text back.
    /// Returns how much more (or less) the message now holds than it was charged.
    /// </summary>
    internal long HoldPayload(IMemoryOwner<byte> payload)
    {
        if (Interlocked.CompareExchange(ref _payload, payload, null) is not null)
        {
            payload.Dispose();
            throw new InvalidOperationException("The message holds a payload already.");
        }

        long held = payload.Memory.Length;
        if (Interlocked.Exchange(ref _text, null) is { } text)
        {
            _buffers.ReturnArray(text);
        }

        return held - Interlocked.Exchange(ref _bytes, held);
    }

    /// <summary>Gives every buffer back and returns what the message held; nothing may read its events after this.</summary>
    internal long ReturnBuffers()
    {
        if (Interlocked.Exchange(ref _text, null) is { } text)
        {
            _buffers.ReturnArray(text);
        }

        Interlocked.Exchange(ref _payload, null)?.Dispose();
        return Interlocked.Exchange(ref _bytes, 0);
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
