using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Text.Json;
using ZstdSharp;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// Reads the events of a version-2 message (docs/wire-format.md, Version 2): checks the envelope's codec and numbers,
/// decodes the base64 into a pooled buffer, decompresses into a buffer of exactly the declared size taken from the
/// caller's pool, and reads the events from it as version 1 does. Never allocates more than the declared size
/// (which is first checked against a limit), never throws for bad input.
/// </summary>
internal static class CompressedPayloadReader
{
    private const string Corrupt = "Compressed payload is corrupt or truncated";

    private static readonly byte[] Whitespace = [(byte)' ', (byte)'\t', (byte)'\r', (byte)'\n'];

    // zstd's decompression context is reused (it is not thread-safe; each thread keeps its own).
    [ThreadStatic]
    private static Decompressor? t_decompressor;

    /// <summary>A pool that allocates exactly what is asked, for callers that leave the payload to the garbage collector.</summary>
    public static MemoryPool<byte> Unpooled { get; } = new UnpooledMemory();

    public static DecodeResult Read(ReadOnlySpan<byte> message, in CompressedEnvelope envelope, MemoryPool<byte> payloads, int maxPayloadBytes)
    {
        if (EnvelopeFailure(envelope, maxPayloadBytes) is { } failure)
        {
            return failure;
        }

        int size = (int)envelope.Size.Number;
        var base64 = message.Slice(envelope.Payload.Start, envelope.Payload.Length);
        byte[]? unescaped = envelope.Payload.IsEscaped ? ArrayPool<byte>.Shared.Rent(base64.Length) : null;
        byte[] compressed = ArrayPool<byte>.Shared.Rent(Base64.GetMaxDecodedFromUtf8Length(base64.Length));
        try
        {
            if (unescaped is not null)
            {
                // Escapes in a JSON string ("\/" for "/") are legal, if no writer of this format makes them.
                var quoted = new Utf8JsonReader(message.Slice(envelope.Payload.Start - 1, envelope.Payload.Length + 2));
                quoted.Read();
                base64 = unescaped.AsSpan(0, quoted.CopyString(unescaped));
            }

            // Whitespace is refused too: .NET's decoder skips it on net10.0 but not on netstandard2.0, and no writer writes it.
            if (base64.IndexOfAny(Whitespace) >= 0
                || Base64.DecodeFromUtf8(base64, compressed, out int consumed, out int length) != OperationStatus.Done
                || consumed != base64.Length)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, "Message 'payload' is not valid base64 (RFC 4648, with padding).");
            }

            return Decompress(compressed.AsSpan(0, length), size, envelope.Count.Number, payloads);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(compressed);
            if (unescaped is not null)
            {
                ArrayPool<byte>.Shared.Return(unescaped);
            }
        }
    }

    /// <summary>
    /// The <c>Frame_Content_Size</c> a zstd frame's header declares (RFC 8878, 3.1.1.1), -1 when the header declares
    /// none, or null when the bytes do not start with a complete zstd frame header.
    /// </summary>
    internal static long? DeclaredContentSize(ReadOnlySpan<byte> frame)
    {
        const uint magic = 0xFD2FB528;
        if (frame.Length < 5 || BinaryPrimitives.ReadUInt32LittleEndian(frame) != magic)
        {
            return null;
        }

        byte descriptor = frame[4];
        bool singleSegment = (descriptor & 0x20) != 0;
        if ((descriptor & 0x08) != 0)
        {
            return null; // the reserved bit must be zero
        }

        int dictionaryIdBytes = (descriptor & 3) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
        int sizeBytes = (descriptor >> 6) switch { 0 => singleSegment ? 1 : 0, 1 => 2, 2 => 4, _ => 8 };
        int at = 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes;
        if (sizeBytes == 0)
        {
            return -1;
        }

        if (frame.Length < at + sizeBytes)
        {
            return null;
        }

        var field = frame.Slice(at, sizeBytes);
        return sizeBytes switch
        {
            1 => field[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(field) + 256, // the 2-byte form is offset by 256
            4 => BinaryPrimitives.ReadUInt32LittleEndian(field),
            _ => (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(field), long.MaxValue),
        };
    }

    /// <summary>What is wrong with the version-2 envelope (before any decoding), or null.</summary>
    private static DecodeResult? EnvelopeFailure(in CompressedEnvelope envelope, int maxPayloadBytes)
    {
        if (envelope.Repeated() is { } repeated)
        {
            return DecodeResult.Fail(
                DeadLetterReason.Undecodable,
                $"Message has {repeated.Count} '{repeated.Name}' fields: JSON readers differ on which one counts, so none of its events is delivered.");
        }

        var codec = envelope.Codec;
        if (codec.Token != JsonTokenType.String)
        {
            return Undecodable(codec, "codec", "a string", "\"codec\":\"zstd\"");
        }

        if (!codec.IsZstd)
        {
            // Like an unknown version: a newer producer may write a codec this reader does not know yet.
            return DecodeResult.Fail(
                DeadLetterReason.UnknownVersion,
                $"Version-2 message has an unknown codec '{LogText.Escape(codec.Text)}' (this reader reads '{CompressedMessageWriter.Codec}'); upgrade the flush, then redrive.");
        }

        if (!envelope.Size.IsCount)
        {
            return Undecodable(envelope.Size, "size", "a non-negative integer (the payload's bytes after decompression)", "\"size\":1048576");
        }

        if (envelope.Size.Number > maxPayloadBytes)
        {
            return DecodeResult.Fail(
                DeadLetterReason.Undecodable,
                $"Message 'size' {LogText.Escape(envelope.Size.Text)} is over this reader's limit of {maxPayloadBytes} bytes for a decompressed payload.");
        }

        if (!envelope.Count.IsCount)
        {
            return Undecodable(envelope.Count, "count", "a non-negative integer (the number of events)", "\"count\":480");
        }

        return envelope.Payload.Token != JsonTokenType.String
            ? Undecodable(envelope.Payload, "payload", "a string (base64)", "\"payload\":\"KLUv/...\"")
            : null;
    }

    private static DecodeResult Undecodable(in CompressedEnvelope.Field field, string name, string expected, string example) =>
        DecodeResult.Fail(
            DeadLetterReason.Undecodable,
            field.Token == JsonTokenType.None
                ? $"Version-2 message has no '{name}': it must be {expected}, e.g. {example}."
                : $"Message '{name}' must be {expected}, not {MessageDecoder.Describe(field.Token, field.Text)}: e.g. {example}.");

    private static DecodeResult Decompress(ReadOnlySpan<byte> frame, int size, long count, MemoryPool<byte> payloads)
    {
        switch (DeclaredContentSize(frame))
        {
            case null:
                return DecodeResult.Fail(DeadLetterReason.Undecodable, $"{Corrupt}: it does not start with a zstd frame header.");
            case -1:
                return DecodeResult.Fail(DeadLetterReason.Undecodable, "Compressed payload's zstd frame does not declare its content size (the writer must put it in the frame header).");
            case { } declared when declared != size:
                return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Compressed payload's zstd frame declares {declared} bytes, but the message 'size' is {size}.");
        }

        // The caller's pool charges what it hands out: the declared size, already checked against the limit.
        var owner = payloads.Rent(size);
        bool kept = false;
        try
        {
            var payload = owner.Memory.Slice(0, size);
            int written;
            try
            {
                var decompressor = t_decompressor ??= new Decompressor();
                if (!decompressor.TryUnwrap(frame, payload.Span, out written))
                {
                    return DecodeResult.Fail(DeadLetterReason.Undecodable, $"{Corrupt}: it holds more than the {size} bytes the message declares.");
                }
            }
            catch (ZstdException ex)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, $"{Corrupt} (zstd: {LogText.Escape(ex.Message)}).");
            }

            if (written != size)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, $"{Corrupt}: it holds {written} bytes, not the {size} the message declares.");
            }

            var events = ReadEvents(payload);
            if (!events.Succeeded)
            {
                return events;
            }

            // Compared as read (a long): a count past int.MaxValue must not wrap round to the real one.
            if (events.Events.Count != count)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message 'count' is {count}, but its payload holds {events.Events.Count} events.");
            }

            kept = true;
            return events with { Payload = owner };
        }
        finally
        {
            if (!kept)
            {
                owner.Dispose();
            }
        }
    }

    /// <summary>The events of a decompressed payload: a JSON array of version-1 event objects and nothing else.</summary>
    private static DecodeResult ReadEvents(ReadOnlyMemory<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload.Span, MessageDecoder.ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, "Compressed payload is not a JSON array of events.");
            }

            var events = EventArrayReader.Read(ref reader, payload);

            // Reading on checks what follows the array (the reader throws for a second value).
            return reader.Read()
                ? DecodeResult.Fail(DeadLetterReason.Undecodable, "Compressed payload has content after its array of events.")
                : events;
        }
        catch (JsonException ex)
        {
            return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Compressed payload is not valid JSON: {LogText.Escape(ex.Message)}");
        }
        catch (InvalidOperationException ex)
        {
            // An escaped lone surrogate ("\ud800") in a name or string the reader compares or reads.
            return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Compressed payload holds a string that is not valid UTF-16: {LogText.Escape(ex.Message)}");
        }
    }

    /// <summary>Hands out arrays of exactly the size asked for, which the garbage collector takes back.</summary>
    private sealed class UnpooledMemory : MemoryPool<byte>
    {
        public override int MaxBufferSize => int.MaxValue;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => new Owner(new byte[Math.Max(0, minBufferSize)]);

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Owner(byte[] array) : IMemoryOwner<byte>
        {
            public Memory<byte> Memory => array;

            public void Dispose()
            {
            }
        }
    }
}
