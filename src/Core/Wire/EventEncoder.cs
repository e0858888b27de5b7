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
    private readonly bool _sqsSafeText;

    /// <param name="sqsSafeText">
    /// The fragments go into a message's text as they are (version 1), so a body with characters some SQS implementations
    /// refuse goes as <c>bodyText</c>; false for a compressed payload (version 2), which SQS never sees as text, so every
    /// body goes raw and the flush reads it without a copy.
    /// </param>
    public EventEncoder(bool sqsSafeText = true)
    {
        _writer = new Utf8JsonWriter(_stream, WireFormat.WriterOptions);
        _sqsSafeText = sqsSafeText;
    }

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
            WireFormat.WriteEvent(_writer, e.Url, e.HttpVerb, e.Headers, body.AsSpan(0, length), e.EnqueuedAt, validateBody: true, _sqsSafeText);
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
