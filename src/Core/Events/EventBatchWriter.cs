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
        int size = EmptyBodyBytes(header.Sum(h => h.Length), header.Count);
        for (int i = 0; i < visitors.Count; i++)
        {
            size += VisitorCost(visitors[i].Length, i);
        }

        var body = new byte[size];
        var span = body.AsSpan();
        int at = 0;
        span[at++] = (byte)'{';
        foreach (var property in header)
        {
            property.Span.CopyTo(span[at..]);
            at += property.Length;
            span[at++] = (byte)',';
        }

        VisitorsOpen.CopyTo(span[at..]);
        at += VisitorsOpen.Length;
        for (int i = 0; i < visitors.Count; i++)
        {
            if (i > 0)
            {
                span[at++] = (byte)',';
            }

            visitors[i].Span.CopyTo(span[at..]);
            at += visitors[i].Length;
        }

        span[at++] = (byte)']';
        span[at++] = (byte)'}';
        return at == size ? body : throw new InvalidOperationException("Merged body size was miscounted.");
    }
}
