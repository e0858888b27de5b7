using System.Buffers;
using System.Text;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace BulkDispatch.UnitTests.Core;

/// <summary>Builds version-2 messages by hand (any field, any frame) for the decoder's tests.</summary>
internal static class CompressedWire
{
    public static readonly DateTimeOffset Start = new(2026, 7, 14, 9, 30, 15, 123, TimeSpan.FromHours(2));

    public static QueuedEvent Queued(RecordedLogEvent v, int index) =>
        new(v.Url, v.HttpVerb, v.Headers, v.Body, Start.AddMilliseconds(index * 37.5));

    /// <summary>The fragments <see cref="EventEncoder"/> makes for these vectors.</summary>
    public static List<byte[]> Fragments(IEnumerable<RecordedLogEvent> vectors)
    {
        using var encoder = new EventEncoder();
        return vectors.Select((v, i) => encoder.Encode(Queued(v, i))).ToList();
    }

    /// <summary>The version-1 events array those fragments make: what a version-2 payload holds.</summary>
    public static byte[] Payload(IReadOnlyList<byte[]> fragments) =>
        [(byte)'[', .. fragments.SelectMany((f, i) => i == 0 ? f : [(byte)',', .. f]), (byte)']'];

    public static byte[] Frame(ReadOnlySpan<byte> payload, bool contentSize = true, bool checksum = true, int level = 1)
    {
        using var compressor = new Compressor(level);
        compressor.SetParameter(ZSTD_cParameter.ZSTD_c_contentSizeFlag, contentSize ? 1 : 0);
        compressor.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, checksum ? 1 : 0);
        return compressor.Wrap(payload).ToArray();
    }

    /// <summary>A version-2 message with every field as the writer would put it, around any frame and numbers.</summary>
    public static string Message(byte[] frame, long size, int count) =>
        Fields($"\"codec\":\"zstd\",\"size\":{size},\"count\":{count},\"payload\":\"{Convert.ToBase64String(frame)}\"");

    /// <summary>A version-2 message of the payload, with a correct frame and numbers.</summary>
    public static string Message(byte[] payload, int count) => Message(Frame(payload), payload.Length, count);

    /// <summary>A version-2 envelope with these fields after <c>format</c> and <c>version</c>.</summary>
    public static string Fields(string fields) => "{\"format\":\"bulkdispatch\",\"version\":2," + fields + "}";

    public static DecodeResult Decode(string message, MemoryPool<byte>? pool = null, int maxPayloadBytes = WireFormat.MaxPayloadBytes) =>
        MessageDecoder.Decode(Encoding.UTF8.GetBytes(message), legacy: null, "", pool ?? new CountingPool(), maxPayloadBytes);
}

/// <summary>
/// A pool that counts what it hands out and gets back, and hands out more than asked, filled with a marker, so a
/// reader that uses the whole buffer instead of the declared size is caught.
/// </summary>
internal sealed class CountingPool : MemoryPool<byte>
{
    public const int Slack = 64;

    public List<int> Sizes { get; } = [];

    public int Returned { get; private set; }

    public List<Memory<byte>> Buffers { get; } = [];

    public override int MaxBufferSize => int.MaxValue;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        Sizes.Add(minBufferSize);
        var array = new byte[minBufferSize + Slack];
        array.AsSpan().Fill((byte)'#');
        Buffers.Add(array);
        return new Owner(this, array);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Owner(CountingPool pool, byte[] array) : IMemoryOwner<byte>
    {
        private bool _disposed;

        public Memory<byte> Memory => _disposed ? throw new ObjectDisposedException(nameof(Owner)) : array;

        public void Dispose()
        {
            Assert.False(_disposed, "A payload buffer was given back twice.");
            _disposed = true;
            pool.Returned++;
        }
    }
}
