namespace BulkDispatch.Core.Events;

/// <summary>
/// Writes a merged EventBatch: the shared header properties and the concatenated visitors, all
/// copied as raw text: <c>{header,...,"visitors":[v1,v2,...]}</c>.
/// </summary>
internal static class EventBatchWriter
{
    private static readonly byte[] VisitorsOpen = "\"visitors\":["u8.ToArray();

    /// <summary>Bytes of a body with these header properties and no visitor.</summary>
    public static int EmptyBodyBytes(int headerBytes, int headerCount) =>
        1 + headerBytes + headerCount /* one comma after each header property */ + VisitorsOpen.Length + 2;

    /// <summary>Bytes one more visitor adds to a body that already holds <paramref name="visitorsSoFar"/> visitors.</summary>
    public static int VisitorCost(int visitorBytes, int visitorsSoFar) => visitorBytes + (visitorsSoFar > 0 ? 1 : 0);

    public static byte[] Write(IReadOnlyList<ReadOnlyMemory<byte>> header, IReadOnlyList<ReadOnlyMemory<byte>> visitors)
    {
        int headerBytes = 0;
        for (int i = 0; i < header.Count; i++)
        {
            headerBytes += header[i].Length;
        }

        int size = EmptyBodyBytes(headerBytes, header.Count);
        for (int i = 0; i < visitors.Count; i++)
        {
            size += VisitorCost(visitors[i].Length, i);
        }

        var body = new byte[size];
        int at = WriteStart(header, body);
        for (int i = 0; i < visitors.Count; i++)
        {
            at = WriteVisitor(body, at, visitors[i].Span, i);
        }

        at = WriteEnd(body, at);
        return at == size ? body : throw new InvalidOperationException("Merged body size was miscounted.");
    }

    /// <summary>Writes <c>{header,...,"visitors":[</c>; returns the bytes written.</summary>
    public static int WriteStart(IReadOnlyList<ReadOnlyMemory<byte>> header, Span<byte> span)
    {
        int at = 0;
        span[at++] = (byte)'{';
        for (int i = 0; i < header.Count; i++)
        {
            header[i].Span.CopyTo(span[at..]);
            at += header[i].Length;
            span[at++] = (byte)',';
        }

        VisitorsOpen.CopyTo(span[at..]);
        return at + VisitorsOpen.Length;
    }

    /// <summary>Writes the visitor number <paramref name="index"/> (with its comma) at <paramref name="at"/>; returns the new end.</summary>
    public static int WriteVisitor(Span<byte> span, int at, ReadOnlySpan<byte> visitor, int index)
    {
        if (index > 0)
        {
            span[at++] = (byte)',';
        }

        visitor.CopyTo(span[at..]);
        return at + visitor.Length;
    }

    /// <summary>Writes <c>]}</c> at <paramref name="at"/>; returns the new end.</summary>
    public static int WriteEnd(Span<byte> span, int at)
    {
        span[at++] = (byte)']';
        span[at++] = (byte)'}';
        return at;
    }
}
