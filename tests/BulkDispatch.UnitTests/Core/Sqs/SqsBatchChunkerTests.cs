using BulkDispatch.Core.Sqs;

namespace BulkDispatch.UnitTests.Core.Sqs;

/// <summary>How the items of a batch call are cut into requests SQS accepts.</summary>
public sealed class SqsBatchChunkerTests
{
    [Fact]
    public void Items_go_in_order_ten_at_a_time()
    {
        var chunks = SqsBatchChunker.Chunk(23);

        Assert.Equal([10, 10, 3], chunks.Select(c => c.Count));
        Assert.Equal(Enumerable.Range(0, 23), chunks.SelectMany(c => c));
    }

    [Fact]
    public void No_items_no_chunks() => Assert.Empty(SqsBatchChunker.Chunk(0));

    [Fact]
    public void A_chunk_closes_before_its_bytes_would_pass_the_batch_limit()
    {
        const int Mib = 1024 * 1024;
        int[] sizes = [400_000, 400_000, 300_000, Mib, 10, 10];

        var chunks = SqsBatchChunker.Chunk(sizes);

        Assert.Equal([[0, 1], [2], [3], [4, 5]], chunks);
        Assert.All(chunks, c => Assert.True(c.Sum(i => (long)sizes[i]) <= Mib));
    }

    [Fact]
    public void An_item_larger_than_the_batch_limit_goes_alone()
    {
        var chunks = SqsBatchChunker.Chunk([5, 2_000_000, 5], maxEntries: 10, maxBatchBytes: 1_000_000);

        Assert.Equal([[0], [1], [2]], chunks);
    }
}
