namespace BulkDispatch.Core.Sqs;

/// <summary>Splits the items of a batch call into requests SQS accepts. Pure logic.</summary>
internal static class SqsBatchChunker
{
    /// <summary>
    /// The indexes of the items (whose sizes are <paramref name="sizes"/>), in order, grouped into chunks of at most
    /// <paramref name="maxEntries"/> items and <paramref name="maxBatchBytes"/> bytes together. An item larger than
    /// <paramref name="maxBatchBytes"/> goes alone (SQS then judges it).
    /// </summary>
    public static List<List<int>> Chunk(IReadOnlyList<int> sizes, int maxEntries = SqsLimits.MaxBatchEntries, long maxBatchBytes = SqsLimits.MaxBatchBytes)
    {
        var chunks = new List<List<int>>();
        var current = new List<int>();
        long bytes = 0;
        for (int i = 0; i < sizes.Count; i++)
        {
            if (current.Count > 0 && (current.Count >= maxEntries || bytes + sizes[i] > maxBatchBytes))
            {
                chunks.Add(current);
                current = [];
                bytes = 0;
            }

            current.Add(i);
            bytes += sizes[i];
        }

        if (current.Count > 0)
        {
            chunks.Add(current);
        }

        return chunks;
    }

    /// <summary>Chunks of at most <paramref name="maxEntries"/> items, in order (deletes and visibility changes, whose size SQS does not limit).</summary>
    public static List<List<int>> Chunk(int count, int maxEntries = SqsLimits.MaxBatchEntries) =>
        Chunk(new int[count], maxEntries, long.MaxValue);
}
