using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// The messages this run holds, and the one rule that deletes them: a message is deleted only when every
/// part of it (each visitor, each dead letter) was accepted by Optimizely or placed on the dead-letter queue.
/// A message with any part abandoned is kept: it comes back after its visibility timeout, or at once after a
/// dry run (the <see cref="IKeptMessageSink"/> decides). Thread-safe; every stage resolves parts through it.
/// </summary>
internal sealed class InFlightLedger(ByteBudget budget, ChannelWriter<InFlightMessage> deletions, IKeptMessageSink kept, MessageBuffers? buffers = null)
{
    private readonly ConcurrentDictionary<InFlightMessage, byte> _held = new(ReferenceEqualityComparer.Instance);
    private readonly MessageBuffers _buffers = buffers ?? MessageBuffers.FromSharedPool;
    private long _heldBytes;
    private long _typicalBytes;

    /// <summary>
    /// The largest decompressed payload a message may declare: the reader's limit, or the whole budget when that is
    /// smaller (such a message could never fit: it is dead-lettered as undecodable, not waited for).
    /// </summary>
    public int MaxPayloadBytes { get; } = (int)Math.Min(WireFormat.MaxPayloadBytes, budget.Limit);

    /// <summary>
    /// What a message of this run has recently weighed (a maximum that decays by an eighth per message): receivers
    /// reserve at least this per message, since a small compressed message may hold a large payload.
    /// </summary>
    public long TypicalMessageBytes => Interlocked.Read(ref _typicalBytes);

    /// <summary>Messages received and not yet deleted or kept.</summary>
    public int Count => _held.Count;

    /// <summary>What the held messages weigh: the budget's use without the reservations of receives in progress.</summary>
    public long HeldBytes => Interlocked.Read(ref _heldBytes);

    /// <summary>Takes a received message in (its text copied into a pooled buffer): it holds its weight of the budget until it is forgotten, and one part (its decoding) is pending.</summary>
    public InFlightMessage Admit(ReceivedMessage received, long leaseUntil)
    {
        var message = new InFlightMessage(received.MessageId, received.ReceiptHandle, received.Body, leaseUntil, _buffers, MaxPayloadBytes);
        long bytes = message.Bytes;
        budget.Take(bytes);
        Interlocked.Add(ref _heldBytes, bytes);
        long typical = Interlocked.Read(ref _typicalBytes);
        Interlocked.Exchange(ref _typicalBytes, Math.Max(bytes, typical - (typical / 8))); // racing updates: any of them will do
        _held[message] = 0;
        return message;
    }

    /// <summary>
    /// A version-2 message was decoded: its payload replaces its text, in memory and in the budget (the payload was
    /// charged as declared on arrival; this settles the difference).
    /// </summary>
    public void HoldPayload(InFlightMessage message, IMemoryOwner<byte> payload)
    {
        long change = message.HoldPayload(payload);
        Interlocked.Add(ref _heldBytes, change);
        if (change > 0)
        {
            budget.Take(change);
        }
        else if (change < 0)
        {
            budget.Return(-change);
        }
    }

    /// <summary><paramref name="parts"/> more parts of the message will each be resolved or abandoned.</summary>
    public void Expect(InFlightMessage message, int parts)
    {
        Debug.Assert(_held.ContainsKey(message), "Parts are expected only of a message the ledger holds.");
        if (parts > 0)
        {
            message.AddPending(parts);
        }
    }

    /// <summary>One part was accepted or dead-lettered (or, for the decoding, every other part is now expected).</summary>
    public void Resolve(InFlightMessage message) => Release(message);

    /// <summary>One part will not be accepted or dead-lettered in this run: the message stays in the queue.</summary>
    public void Abandon(InFlightMessage message)
    {
        message.MarkFailed();
        Release(message);
    }

    /// <summary>Messages to extend: held, not abandoned, and whose lease ends within <paramref name="margin"/> of <paramref name="now"/>.</summary>
    public List<InFlightMessage> LeasesEndingBefore(long now, long margin) =>
        _held.Keys.Where(m => !m.Failed && m.LeaseUntil - now < margin).ToList();

    /// <summary>The message is done with (deleted, or the delete failed): its memory goes back to the budget.</summary>
    public void Forget(InFlightMessage message)
    {
        if (_held.TryRemove(message, out _))
        {
            long bytes = message.ReturnBuffers();
            Interlocked.Add(ref _heldBytes, -bytes);
            budget.Return(bytes);
        }
    }

    private void Release(InFlightMessage message)
    {
        if (!message.Release())
        {
            return;
        }

        if (!message.Failed && deletions.TryWrite(message))
        {
            return;
        }

        kept.Keep(message);
        Forget(message);
    }
}
