using System.Buffers;
using System.Text;
using System.Text.Json;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// Writes events as the JSON objects that go into a message's <c>events</c> array, so a producer can size
/// messages exactly and join the fragments with <see cref="WireFormat.Compose"/>. Reuses its buffers:
/// one instance per thread (the producer's pump owns one).
/// </summary>
internal sealed class EventEncoder : IDisposable
{
    private readonly MemoryStream _stream = new();
    private readonly Utf8JsonWriter _writer;

    public EventEncoder() => _writer = new Utf8JsonWriter(_stream, WireFormat.WriterOptions);

    /// <summary>The event's fragment; the body is checked to be valid JSON.</summary>
    /// <exception cref="JsonException">The body is not valid JSON.</exception>
    public byte[] Encode(QueuedEvent e)
    {
        byte[] body = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(e.Body.Length));
        try
        {
            int length = Encoding.UTF8.GetBytes(e.Body, 0, e.Body.Length, body, 0);
            _stream.SetLength(0);
            _writer.Reset(_stream);
            WireFormat.WriteEvent(_writer, e.Url, e.HttpVerb, e.Headers, body.AsSpan(0, length), e.EnqueuedAt, validateBody: true);
            _writer.Flush();
            return _stream.ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    public void Dispose()
    {
        _writer.Dispose();
        _stream.Dispose();
    }
}
