using System.Buffers.Text;
using System.Text;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// Writes version-2 messages (docs/wire-format.md, Version 2): event fragments from <see cref="EventEncoder"/>
/// are gathered into a JSON array, compressed as one zstd frame and carried as base64 in a small envelope.
/// Keeps its zstd context and buffers from message to message: one instance per thread (the producer's pump owns one).
/// </summary>
/// <remarks>
/// Use: <see cref="TryAdd"/> fragments while they fit, <see cref="Compress"/> (the exact size of the body),
/// <see cref="ToBody"/>, <see cref="Clear"/>. The body is ASCII, so its length in characters is its size in bytes.
/// </remarks>
internal sealed class CompressedMessageWriter : IDisposable
{
    /// <summary>The writer's default cap on a payload before compression: 1 MiB, an eighth of what a reader accepts.</summary>
    public const int DefaultMaxPayloadBytes = 1024 * 1024;

    /// <summary>The codec name version 2 messages carry in <c>codec</c>.</summary>
    public const string Codec = "zstd";

    /// <summary>The zstd level written: the cheapest level, and on this workload the best ratio of the levels measured (docs/benchmarks.md).</summary>
    public const int Level = 1;

    // The envelope around the numbers and the payload, written in this order.
    private static readonly byte[] BeforeSize = Encoding.UTF8.GetBytes("{\"format\":\"" + WireFormat.FormatName + "\",\"version\":2,\"codec\":\"" + Codec + "\",\"size\":");
    private static readonly byte[] BeforeCount = Encoding.UTF8.GetBytes(",\"count\":");
    private static readonly byte[] BeforePayload = Encoding.UTF8.GetBytes(",\"payload\":\"");
    private static readonly byte[] AfterPayload = Encoding.UTF8.GetBytes("\"}");

    private readonly Compressor _compressor = new(Level);
    private byte[] _payload = new byte[16 * 1024];
    private byte[] _compressed = [];
    private byte[] _body = [];
    private int _payloadBytes = 1; // the opening '['
    private int _bodyBytes = -1;

    /// <param name="maxPayloadBytes">The cap on a payload before compression (at most <see cref="WireFormat.MaxPayloadBytes"/>, what readers accept).</param>
    public CompressedMessageWriter(int maxPayloadBytes = DefaultMaxPayloadBytes)
    {
        if (maxPayloadBytes is < 2 or > WireFormat.MaxPayloadBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(maxPayloadBytes), maxPayloadBytes, $"A version-2 payload is between 2 and {WireFormat.MaxPayloadBytes} bytes.");
        }

        MaxPayloadBytes = maxPayloadBytes;
        _payload[0] = (byte)'[';

        // Both are zstd's defaults today; set so that a later default cannot drop what readers check.
        _compressor.SetParameter(ZSTD_cParameter.ZSTD_c_contentSizeFlag, 1);
        _compressor.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
    }

    /// <summary>The cap on a payload before compression.</summary>
    public int MaxPayloadBytes { get; }

    /// <summary>Events added since the last <see cref="Clear"/>.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes the payload decompresses to, with the fragments added so far: the <c>size</c> the message will declare.</summary>
    public int PayloadBytes => _payloadBytes + 1; // the closing ']'

    /// <summary>Bytes of the payload of fragments of these sizes: <c>[</c>, the fragments, a comma between two, <c>]</c>.</summary>
    public static int PayloadBytesOf(int fragmentBytes, int fragmentCount) => 2 + fragmentBytes + Math.Max(0, fragmentCount - 1);

    /// <summary>
    /// The largest body a payload of this size can compress to (zstd's bound for incompressible data, base64, envelope):
    /// a packer whose payload cap keeps this under the queue's message size never has a body too large to send.
    /// </summary>
    public static int MaxBodyBytes(int payloadBytes, int count) =>
        EnvelopeBytes(payloadBytes, count) + Base64Bytes(Compressor.GetCompressBound(payloadBytes));

    /// <summary>Whether one more fragment of this size keeps the payload within <see cref="MaxPayloadBytes"/>.</summary>
    public bool Fits(int fragmentBytes) => PayloadBytes + fragmentBytes + (Count > 0 ? 1 : 0) <= MaxPayloadBytes;

    /// <summary>Appends the fragment to the payload; false (and nothing added) when it does not <see cref="Fits"/>.</summary>
    public bool TryAdd(ReadOnlySpan<byte> fragment)
    {
        if (!Fits(fragment.Length))
        {
            return false;
        }

        int needed = PayloadBytes + fragment.Length + (Count > 0 ? 1 : 0);
        if (needed > _payload.Length)
        {
            Array.Resize(ref _payload, Math.Min(Math.Max(needed, _payload.Length * 2), MaxPayloadBytes));
        }

        if (Count > 0)
        {
            _payload[_payloadBytes++] = (byte)',';
        }

        fragment.CopyTo(_payload.AsSpan(_payloadBytes));
        _payloadBytes += fragment.Length;
        Count++;
        _bodyBytes = -1;
        return true;
    }

    /// <summary>Compresses the events added so far into a body; returns its exact size in bytes (and characters).</summary>
    public int Compress()
    {
        int size = PayloadBytes;
        _payload[size - 1] = (byte)']';
        int bound = Compressor.GetCompressBound(size);
        if (_compressed.Length < bound)
        {
            _compressed = new byte[bound];
        }

        int compressed = _compressor.Wrap(_payload.AsSpan(0, size), _compressed);
        int bodyBytes = EnvelopeBytes(size, Count) + Base64Bytes(compressed);
        if (_body.Length < bodyBytes)
        {
            _body = new byte[Math.Max(bodyBytes, _body.Length * 2)];
        }

        var body = _body.AsSpan();
        int at = Put(body, 0, BeforeSize);
        at += Number(body.Slice(at), size);
        at = Put(body, at, BeforeCount);
        at += Number(body.Slice(at), Count);
        at = Put(body, at, BeforePayload);
        Base64.EncodeToUtf8(_compressed.AsSpan(0, compressed), body.Slice(at), out _, out int written);
        at = Put(body, at + written, AfterPayload);
        _bodyBytes = at;
        return at;
    }

    /// <summary>The body made by the last <see cref="Compress"/>.</summary>
    public string ToBody() =>
        _bodyBytes < 0
            ? throw new InvalidOperationException("Compress the events first: nothing was compressed since the last change.")
            : Encoding.UTF8.GetString(_body, 0, _bodyBytes);

    /// <summary>One body holding these fragments, in order (all of them must fit).</summary>
    public string Write(IReadOnlyList<byte[]> fragments)
    {
        Compat.NotNull(fragments, nameof(fragments));
        Clear();
        foreach (var fragment in fragments)
        {
            if (!TryAdd(fragment))
            {
                throw new ArgumentException($"The fragments make a payload larger than {MaxPayloadBytes} bytes.", nameof(fragments));
            }
        }

        Compress();
        return ToBody();
    }

    /// <summary>Starts a new message; the buffers are kept.</summary>
    public void Clear()
    {
        _payloadBytes = 1;
        Count = 0;
        _bodyBytes = -1;
    }

    public void Dispose() => _compressor.Dispose();

    private static int EnvelopeBytes(int size, int count) =>
        BeforeSize.Length + Digits(size) + BeforeCount.Length + Digits(count) + BeforePayload.Length + AfterPayload.Length;

    private static int Base64Bytes(int bytes) => (bytes + 2) / 3 * 4;

    private static int Digits(int n) => n < 10 ? 1 : 1 + Digits(n / 10);

    private static int Put(Span<byte> body, int at, byte[] text)
    {
        text.CopyTo(body.Slice(at));
        return at + text.Length;
    }

    private static int Number(Span<byte> destination, int value)
    {
        Utf8Formatter.TryFormat(value, destination, out int written);
        return written;
    }
}
