using System.Text.Json;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer.Buffering;

namespace BulkDispatch.Producer.Sending;

/// <summary>
/// Packs events into the messages of one SendMessageBatch: encodes each event as its wire-format fragment (checking its
/// JSON), fits fragments into messages of at most the queue's MaximumMessageSize and a batch into SQS's limits, and
/// composes a message's body from its fragments. The one place that knows the encoding: another wire format changes
/// this type only. Owned by the pump (one thread at a time), except <see cref="Compose"/>.
/// </summary>
internal sealed class MessagePacker(QueueLimits queue) : IDisposable
{
    private readonly EventEncoder _encoder = new();
    private OutgoingBatch _batch = new(queue.MaxMessageBytes, queue.MaxBatchBytes);

    /// <summary>
    /// Adds the event to the batch being filled. When the batch has no room left, the event starts a new one and
    /// <see cref="Packed.Full"/> is the batch to send first. An event that can never be sent is not added: the
    /// result says why.
    /// </summary>
    public Packed Add(PendingEvent item)
    {
        byte[] fragment;
        try
        {
            fragment = _encoder.Encode(item.Event!);
        }
        catch (JsonException ex)
        {
            return new Packed(null, RefusalKind.InvalidJson, 0, ex.Message);
        }

        if (!_batch.CanEverHold(fragment))
        {
            return new Packed(null, RefusalKind.TooLarge, fragment.Length, null);
        }

        if (_batch.TryAdd(fragment, item.Bytes))
        {
            return default;
        }

        var full = Take();
        _batch.TryAdd(fragment, item.Bytes);
        return new Packed(full, null, 0, null);
    }

    /// <summary>The batch filled so far (null when empty); packing goes on in a new one.</summary>
    public OutgoingBatch? Take()
    {
        if (_batch.IsEmpty)
        {
            return null;
        }

        var full = _batch;
        _batch = new OutgoingBatch(queue.MaxMessageBytes, queue.MaxBatchBytes);
        return full;
    }

    /// <summary>The message SQS is sent for <paramref name="message"/>. Thread-safe.</summary>
    public static SqsOutgoingMessage Compose(OutgoingMessage message) => new(WireFormat.Compose(message.Fragments));

    public void Dispose() => _encoder.Dispose();
}

/// <summary>What <see cref="MessagePacker.Add"/> did with an event.</summary>
/// <param name="Full">A batch to send before the one the event went into; null when it fitted in the current one.</param>
/// <param name="Refusal">Why the event was not added; null when it was.</param>
/// <param name="EncodedBytes">The encoded size of an event refused as too large.</param>
/// <param name="Error">What was wrong with its JSON.</param>
internal readonly record struct Packed(OutgoingBatch? Full, RefusalKind? Refusal, int EncodedBytes, string? Error);
