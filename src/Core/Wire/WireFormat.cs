using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// Version 1 of the SQS message format (see docs/wire-format.md): one message carries one or
/// more events, and each event's body is embedded as raw JSON, byte for byte as the SDK wrote it.
/// Version 2 carries the same events compressed (<see cref="CompressedMessageWriter"/>).
/// </summary>
public static class WireFormat
{
    /// <summary>The value of the top-level <c>format</c> field that marks a BulkDispatch message.</summary>
    public const string FormatName = "bulkdispatch";

    /// <summary>The wire-format version <see cref="Encode"/> writes: version 1, events as plain JSON.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The wire-format version whose events travel as one compressed payload.</summary>
    public const int CompressedVersion = 2;

    /// <summary>
    /// The largest decompressed payload a version-2 message may declare before the reader refuses it (8 MiB): a
    /// small message must not make the reader allocate without limit. Writers stay far below it (1 MiB by default).
    /// </summary>
    public const int MaxPayloadBytes = 8 * 1024 * 1024;

    /// <summary>Message attribute that names the <see cref="DeadLetterReason"/> of a dead-lettered message.</summary>
    public const string ReasonAttribute = "BulkDispatch.Reason";

    /// <summary>Message attribute with a human-readable explanation of a dead-lettered message.</summary>
    public const string DetailAttribute = "BulkDispatch.Detail";

    /// <summary>Bytes of a message that holds no event: the envelope around the events array.</summary>
    public static int EnvelopeBytes => EmptyMessage.Length;

    // Non-ASCII text stays as it is: it costs fewer bytes and SQS accepts it.
    internal static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>Writes one version-1 message that carries <paramref name="events"/> in order.</summary>
    /// <exception cref="JsonException">An event's body is not valid JSON.</exception>
    public static string Encode(IReadOnlyList<QueuedEvent> events)
    {
        Compat.NotNull(events, nameof(events));
        using var buffer = new MemoryStream(256 + events.Sum(e => e.Body.Length * 2));
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteStart(writer);
            foreach (var e in events)
            {
                WriteEvent(writer, e.Url, e.HttpVerb, e.Headers, Encoding.UTF8.GetBytes(e.Body), e.EnqueuedAt, validateBody: true);
            }

            WriteEnd(writer);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>One event's fragment for <see cref="Compose"/> (a one-off; a producer keeps an <see cref="EventEncoder"/>).</summary>
    /// <exception cref="JsonException">The body is not valid JSON.</exception>
    internal static byte[] EncodeEvent(QueuedEvent e)
    {
        using var encoder = new EventEncoder();
        return encoder.Encode(e);
    }

    /// <summary>Bytes of a message made of event fragments of these sizes.</summary>
    internal static int ComposedBytes(int fragmentBytes, int fragmentCount) =>
        EnvelopeBytes + fragmentBytes + Math.Max(0, fragmentCount - 1);

    /// <summary>A version-1 message whose events are the given fragments (from <see cref="EventEncoder"/>), in order.</summary>
    internal static string Compose(IReadOnlyList<byte[]> fragments)
    {
        var empty = EmptyMessage;
        int size = ComposedBytes(fragments.Sum(f => f.Length), fragments.Count);
        var bytes = ArrayPool<byte>.Shared.Rent(size);
        int split = empty.Length - 2; // before the closing "]}"
        Buffer.BlockCopy(empty, 0, bytes, 0, split);
        int at = split;
        for (int i = 0; i < fragments.Count; i++)
        {
            if (i > 0)
            {
                bytes[at++] = (byte)',';
            }

            Buffer.BlockCopy(fragments[i], 0, bytes, at, fragments[i].Length);
            at += fragments[i].Length;
        }

        Buffer.BlockCopy(empty, split, bytes, at, 2);
        try
        {
            return Encoding.UTF8.GetString(bytes, 0, size);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static byte[] EmptyMessage => s_emptyMessage ??= Encoding.UTF8.GetBytes(Encode([]));

    private static byte[]? s_emptyMessage;

    /// <summary>
    /// As <see cref="Compose"/>, for fragments written for a version-2 payload (bodies raw whatever their characters):
    /// a body some SQS implementations refuse as text goes as <c>bodyText</c>, as a version-1 writer puts it.
    /// </summary>
    internal static string ComposeSqsSafe(IReadOnlyList<byte[]> fragments)
    {
        string message = Compose(fragments);
        if (fragments.All(f => SqsSafe(f)))
        {
            return message;
        }

        var decoded = MessageDecoder.Decode(message, legacy: null);
        if (!decoded.Succeeded)
        {
            throw new InvalidOperationException($"Event fragments do not make a message: {decoded.FailureDetail}");
        }

        using var buffer = new MemoryStream(message.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteStart(writer);
            foreach (var e in decoded.Events)
            {
                WriteEvent(writer, e.Url, e.HttpVerb, e.Headers, e.Body.Span, e.EnqueuedAt, validateBody: false);
            }

            WriteEnd(writer);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Writes one version-1 message holding a single event whose body is already UTF-8.</summary>
    internal static string EncodeOne(DecodedEvent e, ReadOnlySpan<byte> body)
    {
        using var buffer = new MemoryStream(256 + body.Length);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteStart(writer);
            WriteEvent(writer, e.Url, e.HttpVerb, e.Headers, body, e.EnqueuedAt, validateBody: false);
            WriteEnd(writer);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteStart(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("format", FormatName);
        writer.WriteNumber("version", CurrentVersion);
        writer.WriteStartArray("events");
    }

    private static void WriteEnd(Utf8JsonWriter writer)
    {
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    internal static void WriteEvent(
        Utf8JsonWriter writer,
        string url,
        string verb,
        IReadOnlyDictionary<string, string> headers,
        ReadOnlySpan<byte> body,
        DateTimeOffset? enqueuedAt,
        bool validateBody,
        bool sqsSafeText = true)
    {
        writer.WriteStartObject();
        writer.WriteString("url", url);
        writer.WriteString("verb", verb);
        writer.WriteStartObject("headers");
        foreach (var (name, value) in headers)
        {
            writer.WriteString(name, value);
        }

        writer.WriteEndObject();
        if (enqueuedAt is { } at)
        {
            writer.WriteString("enqueuedAt", at.ToUniversalTime());
        }

        // A dead-lettered body that is not one JSON value (bodyText may carry any text) cannot be embedded raw
        // without breaking the message: it goes as text, which gives the reader back the same bytes.
        if ((!sqsSafeText || SqsSafe(body)) && (validateBody || IsOneJsonValue(body)))
        {
            // The body goes in as raw JSON: never re-serialized, so Optimizely gets the SDK's bytes.
            writer.WritePropertyName("body");
            writer.WriteRawValue(body, skipInputValidation: !validateBody);
        }
        else
        {
            // Characters some SQS implementations refuse (outside the Basic Multilingual Plane, e.g. emoji):
            // carry the body as a JSON string instead. String escaping is exactly reversible, so the
            // reader gets back the same bytes.
            if (validateBody)
            {
                var check = new Utf8JsonReader(body);
                while (check.Read())
                {
                }
            }

            writer.WriteString("bodyText", body);
        }

        writer.WriteEndObject();
    }

    /// <summary>True when the UTF-8 text is exactly one JSON value, without whitespace around it (which a reader would not keep).</summary>
    private static bool IsOneJsonValue(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenStartIndex != 0)
            {
                return false;
            }

            reader.Skip();
            return reader.BytesConsumed == utf8.Length;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>True when the UTF-8 text has only characters every SQS implementation accepts raw.</summary>
    internal static bool SqsSafe(ReadOnlySpan<byte> utf8)
    {
        for (int i = 0; i < utf8.Length; i++)
        {
            byte b = utf8[i];
            if (b >= 0xF0 || (b < 0x20 && b is not (0x09 or 0x0A or 0x0D)))
            {
                return false; // a four-byte sequence (U+10000 and up) or a control character
            }

            if (b == 0xEF && i + 2 < utf8.Length && utf8[i + 1] == 0xBF && utf8[i + 2] >= 0xBE)
            {
                return false; // U+FFFE, U+FFFF
            }
        }

        return true;
    }
}
