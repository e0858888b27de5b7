using System.Text;
using System.Text.Json;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer.Buffering;

namespace BulkDispatch.Producer.Sending;

/// <summary>
/// Packs events into the messages of SendMessageBatch requests, in the wire-format version of the settings: encodes
/// each event as its fragment (checking its JSON), fits fragments into messages and messages into SQS's batch limits,
/// and makes each message's body. The one place that knows the encoding: another wire format changes this type only.
/// Owned by the pump (one thread at a time), except <see cref="Compose"/>.
/// </summary>
/// <remarks>
/// Version 1: a message holds fragments up to the queue's MaximumMessageSize; its body is composed when it is sent.
/// Version 2: a message holds fragments up to <see cref="PayloadTarget"/> raw bytes and is compressed with the pump's
/// one writer as soon as it is full, so batches are fitted by the bodies' real sizes. A body over the queue's limit is
/// split in two and each half compressed again; a single event whose body is still over it goes as version 1, which
/// fits by the size check every event passes (<see cref="OutgoingBatch.CanEverHold"/>). No event is ever dropped here.
/// </remarks>
internal sealed class MessagePacker : IDisposable
{
    /// <summary>
    /// The raw payload a version-2 message is filled to: 1 MiB, the writer's default. SDK events compress to about
    /// 75 KB of body per MiB, so ten such messages fill most of one 1 MiB SendMessageBatch (few requests, little
    /// rounding up to 64 KiB billing chunks), and a flush holds 1 MiB per message it reads, an eighth of its limit.
    /// </summary>
    public const int DefaultPayloadBytes = CompressedMessageWriter.DefaultMaxPayloadBytes;

    // The least compression assumed when a small queue limit cuts the payload target (SDK traffic gets about 14x after
    // base64): below it, a body needs splitting; far above it, messages would be needlessly small.
    private const int AssumedRatio = 4;

    private readonly QueueLimits _queue;
    private readonly EventEncoder _encoder;
    private readonly CompressedMessageWriter? _writer;
    private readonly Queue<OutgoingBatch> _ready = new();
    private OutgoingBatch _batch;
    private OutgoingMessage _open = new();

    /// <param name="queue">The queue's limits.</param>
    /// <param name="wireFormatVersion">1 or 2 (<see cref="ProducerOptions.WireFormatVersion"/>).</param>
    /// <param name="payloadBytes">Version 2: the raw payload to fill a message to (cut to a small queue's limit).</param>
    public MessagePacker(QueueLimits queue, int wireFormatVersion = WireFormat.CompressedVersion, int payloadBytes = DefaultPayloadBytes)
    {
        _queue = queue;
        _batch = NewBatch();
        WireFormatVersion = wireFormatVersion switch
        {
            WireFormat.CurrentVersion or WireFormat.CompressedVersion => wireFormatVersion,
            _ => throw new ArgumentOutOfRangeException(nameof(wireFormatVersion), wireFormatVersion, "The producer writes wire-format version 1 or 2."),
        };
        PayloadTarget = (int)Math.Min(payloadBytes, (long)queue.MaxMessageBytes * AssumedRatio);
        _encoder = new EventEncoder(sqsSafeText: wireFormatVersion == WireFormat.CurrentVersion);
        if (wireFormatVersion == WireFormat.CompressedVersion)
        {
            _writer = NewWriter();
        }
    }

    /// <summary>The wire-format version written.</summary>
    public int WireFormatVersion { get; }

    /// <summary>Version 2: the raw payload bytes (the <c>size</c> a message declares) a message is filled to.</summary>
    public int PayloadTarget { get; }

    /// <summary>
    /// Adds the event to what is being packed. When a batch is complete, <see cref="Packed.Full"/> is that batch, to
    /// send now. An event that can never be sent is not added: the result says why.
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

        return _writer is null ? AddToVersion1(fragment, item.Bytes) : AddToVersion2(fragment, item.Bytes);
    }

    /// <summary>A batch of what is packed so far (null when nothing is left); call until null, packing goes on in a new one.</summary>
    public OutgoingBatch? Take()
    {
        if (_open.Fragments.Count > 0)
        {
            SealOpen();
        }

        if (_ready.Count > 0)
        {
            return _ready.Dequeue();
        }

        if (_batch.IsEmpty)
        {
            return null;
        }

        var full = _batch;
        _batch = NewBatch();
        return full;
    }

    /// <summary>
    /// The SQS messages for <paramref name="messages"/>, in order: the body made on packing, else made now (version 1,
    /// or the halves of a version-2 message SQS refused). Thread-safe.
    /// </summary>
    public List<SqsOutgoingMessage> Compose(IReadOnlyList<OutgoingMessage> messages)
    {
        // Halves are rare (SQS refused a message): a writer of their own, not the pump's, which is busy meanwhile.
        CompressedMessageWriter? writer = null;
        try
        {
            return messages.Select(m => new SqsOutgoingMessage(m.Body ?? (_writer is null ? WireFormat.Compose(m.Fragments) : CompressedBody(m, writer ??= NewWriter())))).ToList();
        }
        finally
        {
            writer?.Dispose();
        }
    }

    public void Dispose()
    {
        _encoder.Dispose();
        _writer?.Dispose();
    }

    private Packed AddToVersion1(byte[] fragment, int bufferedBytes)
    {
        if (_batch.TryAdd(fragment, bufferedBytes))
        {
            return default;
        }

        var full = Take();
        _batch.TryAdd(fragment, bufferedBytes);
        return new Packed(full, null, 0, null);
    }

    private Packed AddToVersion2(byte[] fragment, int bufferedBytes)
    {
        if (_open.Fragments.Count > 0 && CompressedMessageWriter.PayloadBytesOf(_open.FragmentBytes + fragment.Length, _open.Fragments.Count + 1) > PayloadTarget)
        {
            SealOpen();
        }

        _open.Add(fragment, bufferedBytes);
        return new Packed(_ready.Count > 0 ? _ready.Dequeue() : null, null, 0, null);
    }

    /// <summary>Compresses the message being filled into one or more messages and puts them in batches.</summary>
    private void SealOpen()
    {
        var sealedMessages = new List<OutgoingMessage>(1);
        Seal(_open, sealedMessages);
        _open = new OutgoingMessage();
        foreach (var message in sealedMessages)
        {
            if (!_batch.TryAdd(message))
            {
                _ready.Enqueue(_batch);
                _batch = NewBatch();
                _batch.TryAdd(message);
            }
        }
    }

    /// <summary>Makes the message's body; a body over the queue's limit is split in two and each half made again.</summary>
    private void Seal(OutgoingMessage message, List<OutgoingMessage> into)
    {
        int bytes = Compress(message, _writer!);
        if (bytes <= _queue.MaxMessageBytes)
        {
            message.Seal(_writer!.ToBody(), bytes);
        }
        else if (message.Fragments.Count > 1)
        {
            var (first, second) = message.Split();
            Seal(first, into);
            Seal(second, into);
            return;
        }
        else
        {
            // One event that does not compress under the limit: as version 1 it fits (CanEverHold; its body may grow
            // when it must go as bodyText: then SQS refuses it as too large, as any message over the limit), and every
            // reader reads both.
            string body = WireFormat.ComposeSqsSafe(message.Fragments);
            message.Seal(body, Encoding.UTF8.GetByteCount(body));
        }

        into.Add(message);
    }

    /// <summary>The version-2 body of the message (version 1 for a single event it does not fit the queue's limit as).</summary>
    private string CompressedBody(OutgoingMessage message, CompressedMessageWriter writer) =>
        Compress(message, writer) <= _queue.MaxMessageBytes || message.Fragments.Count > 1 ? writer.ToBody() : WireFormat.ComposeSqsSafe(message.Fragments);

    private static int Compress(OutgoingMessage message, CompressedMessageWriter writer)
    {
        writer.Clear();
        foreach (var fragment in message.Fragments)
        {
            if (!writer.TryAdd(fragment))
            {
                throw new InvalidOperationException($"A message of {message.Fragments.Count} events is larger than the writer's payload cap of {writer.MaxPayloadBytes} bytes.");
            }
        }

        return writer.Compress();
    }

    // The cap covers the target and any single event the queue takes (a fragment is never larger than the queue's limit).
    private CompressedMessageWriter NewWriter() => new(Math.Max(PayloadTarget, _queue.MaxMessageBytes));

    private OutgoingBatch NewBatch() => new(_queue.MaxMessageBytes, _queue.MaxBatchBytes);
}

/// <summary>What <see cref="MessagePacker.Add"/> did with an event.</summary>
/// <param name="Full">A complete batch to send now; null when none is complete yet.</param>
/// <param name="Refusal">Why the event was not added; null when it was.</param>
/// <param name="EncodedBytes">The encoded size of an event refused as too large.</param>
/// <param name="Error">What was wrong with its JSON.</param>
internal readonly record struct Packed(OutgoingBatch? Full, RefusalKind? Refusal, int EncodedBytes, string? Error);
