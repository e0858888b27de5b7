using System.Text.Json;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// The version-2 fields of a message's envelope (<c>codec</c>, <c>size</c>, <c>count</c>, <c>payload</c>) as the
/// decoder meets them in its one pass over the message: how often each occurs, and what its value is. Values are
/// kept as positions and numbers, never as copies of the payload.
/// </summary>
internal struct CompressedEnvelope
{
    private const int MaxQuotedBytes = 256;

    public Field Codec;
    public Field Size;
    public Field Count;
    public Field Payload;

    /// <summary>
    /// When the reader is on the name of a version-2 field, moves it onto the value (its first token), notes the value
    /// and returns true; otherwise leaves the reader where it is and returns false.
    /// </summary>
    public bool Collect(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("codec"u8))
        {
            reader.Read();
            Codec.Note(ref reader);
            Codec.IsZstd = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals(CompressedMessageWriter.Codec);
        }
        else if (reader.ValueTextEquals("size"u8))
        {
            reader.Read();
            Size.Note(ref reader);
        }
        else if (reader.ValueTextEquals("count"u8))
        {
            reader.Read();
            Count.Note(ref reader);
        }
        else if (reader.ValueTextEquals("payload"u8))
        {
            reader.Read();
            Payload.Note(ref reader);
        }
        else
        {
            return false;
        }

        return true;
    }

    /// <summary>
    /// The decompressed <c>size</c> a version-2 message declares, read ahead of decoding so that a reader can make room
    /// for it first; 0 when the message is not version 2 or does not say so up front. Reads only the envelope fields
    /// the writer puts before the payload (<c>format</c>, <c>version</c>, <c>codec</c>, <c>size</c>, <c>count</c>)
    /// and stops at any other field, so it costs nothing like a decoding; the decoder still checks everything.
    /// </summary>
    public static long DeclaredSize(ReadOnlySpan<byte> message)
    {
        try
        {
            var reader = new Utf8JsonReader(message, MessageDecoder.ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return 0;
            }

            bool version2 = false;
            long size = -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("version"u8))
                {
                    reader.Read();
                    version2 = reader.TokenType == JsonTokenType.Number && reader.ValueSpan.SequenceEqual("2"u8);
                    if (!version2)
                    {
                        return 0;
                    }
                }
                else if (reader.ValueTextEquals("size"u8))
                {
                    reader.Read();
                    size = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long n) && n >= 0 ? n : -1;
                }
                else if (reader.ValueTextEquals("format"u8) || reader.ValueTextEquals("codec"u8) || reader.ValueTextEquals("count"u8))
                {
                    reader.Read();
                }
                else
                {
                    break; // the payload, or a field no writer puts first: the decoder will tell
                }

                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                {
                    break; // not an envelope value: the decoder will tell
                }

                if (version2 && size >= 0)
                {
                    return size;
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Broken JSON before the payload, or an escaped lone surrogate in a name: the decoder says what is wrong.
        }

        return 0;
    }

    /// <summary>The first version-2 field that occurs more than once, with its count, or null.</summary>
    public readonly (string Name, int Count)? Repeated() =>
        Codec.Occurrences > 1 ? ("codec", Codec.Occurrences)
        : Size.Occurrences > 1 ? ("size", Size.Occurrences)
        : Count.Occurrences > 1 ? ("count", Count.Occurrences)
        : Payload.Occurrences > 1 ? ("payload", Payload.Occurrences)
        : null;

    /// <summary>One envelope field: its last value's token, its text for a failure detail, and its number or position.</summary>
    internal struct Field
    {
        public int Occurrences;
        public JsonTokenType Token;

        /// <summary>The value as a failure detail shows it (a short one read in full; a long one cut).</summary>
        public string? Text;

        /// <summary>The value when it is a non-negative integer (<see cref="long.MaxValue"/> for one too large for a long), else -1.</summary>
        public long Number;

        /// <summary>Where a string value's text (as written, still escaped) starts in the message, and its length.</summary>
        public int Start;
        public int Length;
        public bool IsEscaped;

        public bool IsZstd;

        /// <summary>Whether the value is a non-negative integer (a size or a count).</summary>
        public readonly bool IsCount => Token == JsonTokenType.Number && Number >= 0;

        public void Note(ref Utf8JsonReader reader)
        {
            Occurrences++;
            Token = reader.TokenType;
            Number = -1;
            var value = reader.ValueSpan;
            switch (Token)
            {
                case JsonTokenType.String:
                    Start = (int)reader.TokenStartIndex + 1; // after the opening quote
                    Length = value.Length;
                    IsEscaped = reader.ValueIsEscaped;
                    Text = value.Length <= MaxQuotedBytes ? reader.GetString() : Compat.Utf8String(value.Slice(0, MaxQuotedBytes)) + "…";
                    break;
                case JsonTokenType.Number:
                    Text = value.Length <= MaxQuotedBytes ? Compat.Utf8String(value) : Compat.Utf8String(value.Slice(0, MaxQuotedBytes)) + "…";
                    Number = !IsDigits(value) ? -1 : reader.TryGetInt64(out long n) ? n : long.MaxValue;
                    break;
                case JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null:
                    Text = Compat.Utf8String(value);
                    break;
                default:
                    Text = null; // an object or an array: described by its token
                    break;
            }
        }

        private static bool IsDigits(ReadOnlySpan<byte> number)
        {
            foreach (byte b in number)
            {
                if (b is < (byte)'0' or > (byte)'9')
                {
                    return false;
                }
            }

            return true;
        }
    }
}
