using System.Buffers;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// Where the flush's message buffers come from: each message's UTF-8 text and each version-2 payload, rented here and
/// given back when the message is forgotten. A <see cref="MemoryPool{T}"/> too, for the decoder's payload rent.
/// </summary>
internal sealed class MessageBuffers(ArrayPool<byte> pool) : MemoryPool<byte>
{
    public static MessageBuffers FromSharedPool { get; } = new(ArrayPool<byte>.Shared);

    public override int MaxBufferSize => int.MaxValue;

    public byte[] RentArray(int minimumLength) => pool.Rent(minimumLength);

    public void ReturnArray(byte[] array) => pool.Return(array);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => new Lease(this, pool.Rent(Math.Max(0, minBufferSize)));

    protected override void Dispose(bool disposing)
    {
    }

    /// <summary>One rented array; disposing gives it back once, however often it is called.</summary>
    private sealed class Lease(MessageBuffers buffers, byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(MessageBuffers), "The payload went back to the pool.");

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } returned)
            {
                buffers.ReturnArray(returned);
            }
        }
    }
}
