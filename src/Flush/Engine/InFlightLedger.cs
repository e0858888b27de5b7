using System.Diagnostics;
using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// The messages this run holds, and the one rule that deletes them: a message is deleted only when every
/// part of it (each visitor, each dead letter) was accepted by Optimizely or placed on the dead-letter queue.
/// A message with any part abandoned is kept: it comes back after its visibility timeout, or at once after a
/// dry run (the <see cref="IKeptMessageSink"/> decides). Thread-safe; every stage resolves parts through it.
/// </summary>
internal sealed class InFlightLedger(ByteBudget budget, ChannelWriter<InFlightMessage> deletions, IKeptMessageSink kept)
{
    private readonly ConcurrentDictionary<InFlightMessage, byte> _held = new(ReferenceEqualityComparer.Instance);
    private long _heldBytes;

    /// <summary>Messages received and not yet deleted or kept.</summary>
    public int Count => _held.Count;

    /// <summary>What the held messages weigh: the budget's use without the reservations of receives in progress.</summary>
    public long HeldBytes => Interlocked.Read(ref _heldBytes);

    /// <summary>Takes a received message in: it holds its size of the budget until it is forgotten, and one part (its decoding) is pending.</summary>
    public InFlightMessage Admit(ReceivedMessage received, long leaseUntil)
    {
        int bytes = Encoding.UTF8.GetByteCount(received.Body);
        var message = new InFlightMessage(received.MessageId, received.ReceiptHandle, received.Body, bytes, leaseUntil);
        budget.Take(bytes);
        Interlocked.Add(ref _heldBytes, bytes);
        _held[message] = 0;
        return message;
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
            Interlocked.Add(ref _heldBytes, -message.Bytes);
            budget.Return(message.Bytes);
            message.ReturnUtf8();
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
