using BulkDispatch.Core.Events;

namespace BulkDispatch.Flush.Packing;

/// <summary>One visitor, as raw JSON text, with the bookkeeping tag of the message it came from.</summary>
internal readonly record struct PackedVisitor<TTag>(ReadOnlyMemory<byte> Json, TTag Tag);

/// <summary>
/// One Event API request in the making: the shared header of a group and the visitors packed
/// under it. The body is built only when sent, by copying raw text.
/// </summary>
internal sealed class PackedRequest<TTag>
{
    private readonly List<PackedVisitor<TTag>> _visitors = [];

    public PackedRequest(string url, IReadOnlyList<ReadOnlyMemory<byte>> header, int headerBytes)
    {
        Url = url;
        Header = Own(header);
        HeaderBytes = headerBytes;
        Bytes = EventBatchWriter.EmptyBodyBytes(headerBytes, header.Count);
    }

    /// <summary>The Event API URL the events were meant for.</summary>
    public string Url { get; }

    /// <summary>The raw header properties shared by every visitor in this request.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Header { get; }

    public int HeaderBytes { get; }

    public IReadOnlyList<PackedVisitor<TTag>> Visitors => _visitors;

    /// <summary>The exact size of the body <see cref="BuildBody"/> writes.</summary>
    public int Bytes { get; private set; }

    /// <summary>When the first visitor went in (for the linger limit).</summary>
    public long OpenedAt { get; set; }

    public int CostOf(int visitorBytes) => EventBatchWriter.VisitorCost(visitorBytes, _visitors.Count);

    public void Add(PackedVisitor<TTag> visitor)
    {
        Bytes += CostOf(visitor.Json.Length);
        _visitors.Add(visitor);
    }

    public byte[] BuildBody()
    {
        var body = new byte[Bytes];
        WriteBody(body);
        return body;
    }

    /// <summary>Writes the body (exactly <see cref="Bytes"/> bytes) into <paramref name="destination"/>, e.g. a pooled buffer.</summary>
    public void WriteBody(Span<byte> destination)
    {
        int at = EventBatchWriter.WriteStart(Header, destination);
        for (int i = 0; i < _visitors.Count; i++)
        {
            at = EventBatchWriter.WriteVisitor(destination, at, _visitors[i].Json.Span, i);
        }

        at = EventBatchWriter.WriteEnd(destination, at);
        if (at != Bytes)
        {
            throw new InvalidOperationException("Merged body size was miscounted.");
        }
    }

    /// <summary>
    /// A copy of the header in one array of this request's own. The header comes from the first event of the
    /// group, whose message buffer is pooled and goes back to the pool once that message is resolved, which can
    /// happen while this request (or half of it, after a 400) is still to be sent.
    /// </summary>
    private static ReadOnlyMemory<byte>[] Own(IReadOnlyList<ReadOnlyMemory<byte>> header)
    {
        int total = 0;
        foreach (var property in header)
        {
            total += property.Length;
        }

        var copy = new byte[total];
        var owned = new ReadOnlyMemory<byte>[header.Count];
        int at = 0;
        for (int i = 0; i < header.Count; i++)
        {
            header[i].Span.CopyTo(copy.AsSpan(at));
            owned[i] = new ReadOnlyMemory<byte>(copy, at, header[i].Length);
            at += header[i].Length;
        }

        return owned;
    }

    /// <summary>Two requests with the first and second half of the visitors (to find a rejected one).</summary>
    public (PackedRequest<TTag> First, PackedRequest<TTag> Second) Split()
    {
        if (_visitors.Count < 2)
        {
            throw new InvalidOperationException("A request with one visitor cannot be split.");
        }

        int half = _visitors.Count / 2;
        var first = new PackedRequest<TTag>(Url, Header, HeaderBytes);
        var second = new PackedRequest<TTag>(Url, Header, HeaderBytes);
        for (int i = 0; i < _visitors.Count; i++)
        {
            (i < half ? first : second).Add(_visitors[i]);
        }

        return (first, second);
    }
}
