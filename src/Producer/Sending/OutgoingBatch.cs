using BulkDispatch.Core.Wire;

namespace BulkDispatch.Producer.Sending;

/// <summary>
/// One message: event fragments that will be joined into one wire-format message, and its body once the packer has
/// made it (version 2 compresses on packing; version 1 composes when sending). The fragments stay for halving.
/// </summary>
internal sealed class OutgoingMessage
{
    private readonly List<int> _fragmentBufferedBytes = [];
    private int _bodyBytes;

    public List<byte[]> Fragments { get; } = [];

    public int FragmentBytes { get; private set; }

    public int BufferedBytes { get; private set; }

    /// <summary>The body to send, once made (<see cref="Seal"/>); null: a version-1 body composed at send time.</summary>
    public string? Body { get; private set; }

    /// <summary>The message's size in bytes: its body's, once made; else the version-1 message of its fragments.</summary>
    public int Bytes => Body is null ? WireFormat.ComposedBytes(FragmentBytes, Fragments.Count) : _bodyBytes;

    public int BytesWith(byte[] fragment) => WireFormat.ComposedBytes(FragmentBytes + fragment.Length, Fragments.Count + 1);

    public void Add(byte[] fragment, int bufferedBytes)
    {
        if (Body is not null)
        {
            throw new InvalidOperationException("The message's body is made: it takes no more events.");
        }

        Fragments.Add(fragment);
        _fragmentBufferedBytes.Add(bufferedBytes);
        FragmentBytes += fragment.Length;
        BufferedBytes += bufferedBytes;
    }

    /// <summary>Sets the body made of the fragments; no fragment may be added afterwards.</summary>
    public void Seal(string body, int bodyBytes)
    {
        Body = body;
        _bodyBytes = bodyBytes;
    }

    /// <summary>Two messages holding the first and the second half of this message's fragments (it must hold two or more).</summary>
    public (OutgoingMessage First, OutgoingMessage Second) Split()
    {
        int half = Fragments.Count / 2;
        var first = new OutgoingMessage();
        var second = new OutgoingMessage();
        for (int i = 0; i < Fragments.Count; i++)
        {
            (i < half ? first : second).Add(Fragments[i], _fragmentBufferedBytes[i]);
        }

        return (first, second);
    }
}

/// <summary>
/// Up to ten messages for one SendMessageBatch, each at most the queue's message size, all together
/// at most the batch limit: version-1 fragments (<see cref="TryAdd(byte[], int)"/>) or messages whose body is made
/// (<see cref="TryAdd(OutgoingMessage)"/>). Pure logic: the pump owns it.
/// </summary>
internal sealed class OutgoingBatch(int maxMessageBytes, int maxBatchBytes)
{
    public const int MaxEntries = 10;

    public List<OutgoingMessage> Messages { get; } = [];

    public int Events { get; private set; }

    public int Bytes => Messages.Sum(m => m.Bytes);

    public bool IsEmpty => Events == 0;

    /// <summary>Whether a single event fragment can ever be sent to this queue.</summary>
    public bool CanEverHold(byte[] fragment) => WireFormat.ComposedBytes(fragment.Length, 1) <= maxMessageBytes;

    /// <summary>Adds a message whose body is made; false when the batch has no room for it (send the batch first).</summary>
    public bool TryAdd(OutgoingMessage message)
    {
        if (Messages.Count >= MaxEntries || (Messages.Count > 0 && Bytes + message.Bytes > maxBatchBytes))
        {
            return false;
        }

        Messages.Add(message);
        Events += message.Fragments.Count;
        return true;
    }

    /// <summary>Adds the fragment to the last message or a new one; false when the batch is full (send it first).</summary>
    public bool TryAdd(byte[] fragment, int bufferedBytes)
    {
        var last = Messages.Count > 0 ? Messages[^1] : null;
        int total = Bytes;
        if (last is not null && last.BytesWith(fragment) <= maxMessageBytes && total - last.Bytes + last.BytesWith(fragment) <= maxBatchBytes)
        {
            last.Add(fragment, bufferedBytes);
            Events++;
            return true;
        }

        var next = new OutgoingMessage();
        if (Messages.Count >= MaxEntries || total + next.BytesWith(fragment) > maxBatchBytes)
        {
            return false;
        }

        next.Add(fragment, bufferedBytes);
        Messages.Add(next);
        Events++;
        return true;
    }
}
