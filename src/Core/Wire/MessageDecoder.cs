using System.Buffers;
using System.Text;
using System.Text.Json;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// Reads a queue message: a BulkDispatch wire-format message, or the legacy message of the
/// Python reference producer (<c>{"visitor_id": [attributes, snapshot]}</c>). Never throws for bad
/// input: a message that can never be delivered comes back as a failure with a reason.
/// </summary>
internal static class MessageDecoder
{
    internal static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 256 };

    /// <param name="messageBody">The SQS message body.</param>
    /// <param name="legacy">The header for legacy messages, or null when the legacy settings are missing.</param>
    /// <param name="legacyMissingSettings">Names of the missing legacy settings, for the failure detail.</param>
    public static DecodeResult Decode(string messageBody, LegacyHeader? legacy, string legacyMissingSettings = "")
    {
        Compat.NotNull(messageBody, nameof(messageBody));
        return Decode(Encoding.UTF8.GetBytes(messageBody), legacy, legacyMissingSettings);
    }

    /// <summary>
    /// Decodes a message already in UTF-8. The events' bodies are slices of <paramref name="utf8"/> (version 1) or of
    /// a decompressed payload the garbage collector takes back (version 2), so the caller keeps <paramref name="utf8"/>
    /// unchanged while any of them is in use.
    /// </summary>
    public static DecodeResult Decode(ReadOnlyMemory<byte> utf8, LegacyHeader? legacy, string legacyMissingSettings = "") =>
        Decode(utf8, legacy, legacyMissingSettings, CompressedPayloadReader.Unpooled, WireFormat.MaxPayloadBytes);

    /// <summary>
    /// Decodes a message already in UTF-8, taking the decompressed payload of a version-2 message from
    /// <paramref name="payloads"/> (one <c>Rent</c> of exactly the declared size, after it was checked against
    /// <paramref name="maxPayloadBytes"/>). The result's <see cref="DecodeResult.Payload"/> is then the caller's to
    /// dispose once its events are no longer in use; on any failure the decoder has disposed it already.
    /// </summary>
    /// <param name="utf8">The message body; version-1 events are slices of it, version-2 events never are.</param>
    /// <param name="legacy">The header for legacy messages, or null when the legacy settings are missing.</param>
    /// <param name="legacyMissingSettings">Names of the missing legacy settings, for the failure detail.</param>
    /// <param name="payloads">Where decompressed payloads come from (e.g. <see cref="MemoryPool{T}.Shared"/>, or a pool that charges a memory budget).</param>
    /// <param name="maxPayloadBytes">The largest decompressed payload accepted; a message declaring more is <c>undecodable</c>.</param>
    public static DecodeResult Decode(
        ReadOnlyMemory<byte> utf8, LegacyHeader? legacy, string legacyMissingSettings, MemoryPool<byte> payloads, int maxPayloadBytes = WireFormat.MaxPayloadBytes)
    {
        Compat.NotNull(payloads, nameof(payloads));
        try
        {
            return DecodeUtf8(utf8, legacy, legacyMissingSettings, payloads, maxPayloadBytes);
        }
        catch (JsonException ex)
        {
            return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message is not valid JSON: {LogText.Escape(ex.Message)}");
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader throws this for an escaped lone surrogate ("\ud800") in a name or string it compares or reads.
            return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message holds a string that is not valid UTF-16: {LogText.Escape(ex.Message)}");
        }
    }

    private static DecodeResult DecodeUtf8(
        ReadOnlyMemory<byte> utf8, LegacyHeader? legacy, string legacyMissingSettings, MemoryPool<byte> payloads, int maxPayloadBytes)
    {
        var reader = new Utf8JsonReader(utf8.Span, ReaderOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return DecodeResult.Fail(DeadLetterReason.Undecodable, "Message is not a JSON object.");
        }

        string? format = null;
        JsonTokenType versionToken = JsonTokenType.None;
        string? versionText = null;
        (int Start, int End)? events = null;
        DecodeResult? eventsRead = null;
        var compressed = default(CompressedEnvelope);
        bool allPairs = true;
        int properties = 0;

        // How often each envelope field occurs: JSON readers disagree on a repeated name (most keep the
        // last), so a BulkDispatch message that repeats one is ambiguous and is never read at all.
        int formats = 0;
        int versions = 0;
        int eventArrays = 0;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            properties++;
            if (reader.ValueTextEquals("format"u8))
            {
                formats++;
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    format = reader.GetString();
                    allPairs = false;
                }
                else
                {
                    // Not a format marker if the message is legacy: a visitor may be called "format".
                    format ??= "";
                    allPairs &= IsLegacyPair(ref reader);
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("version"u8))
            {
                versions++;
                reader.Read();
                versionToken = reader.TokenType;
                versionText = versionToken == JsonTokenType.String ? reader.GetString() : Compat.Utf8String(reader.ValueSpan);
                allPairs &= IsLegacyPair(ref reader);
            }
            else if (format is { Length: > 0 } && eventArrays == 0 && reader.ValueTextEquals("events"u8))
            {
                // A format marker came first (the writer puts it there): not legacy, so the events are
                // read in this same pass instead of being skipped here and parsed again below.
                eventArrays++;
                reader.Read();
                eventsRead = reader.TokenType == JsonTokenType.StartArray ? EventArrayReader.Read(ref reader, utf8) : null;
                if (eventsRead is null)
                {
                    reader.Skip();
                }

                events = eventsRead is null ? (0, -1) : (0, 1);
            }
            else if (reader.ValueTextEquals("events"u8))
            {
                eventArrays++;
                reader.Read();
                int start = (int)reader.TokenStartIndex;
                bool isArray = reader.TokenType == JsonTokenType.StartArray;
                allPairs &= IsLegacyPair(ref reader);
                events = isArray ? (start, (int)reader.BytesConsumed) : (start, -1);
            }
            else if (compressed.Collect(ref reader))
            {
                allPairs &= IsLegacyPair(ref reader);
            }
            else if (!allPairs)
            {
                // Already known not to be legacy: no need to check the shape of the value.
                reader.Read();
                reader.Skip();
            }
            else
            {
                reader.Read();
                allPairs &= IsLegacyPair(ref reader);
            }
        }

        // Trailing content after the object is as bad as a broken object.
        if (reader.Read())
        {
            return DecodeResult.Fail(DeadLetterReason.Undecodable, "Message has content after its JSON object.");
        }

        if (format is not null && !allPairs)
        {
            if (Repeated(formats, versions) is { } repeated)
            {
                return RepeatedFailure(repeated);
            }

            if (format != WireFormat.FormatName)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message format '{LogText.Escape(format)}' is not '{WireFormat.FormatName}'.");
            }

            if (VersionFailure(versionToken, versionText) is { } versionFailure)
            {
                return versionFailure;
            }

            if (versionText == "2")
            {
                // A version-2 message's fields are its own: 'events' is unknown to it, so ignored.
                return CompressedPayloadReader.Read(utf8.Span, compressed, payloads, maxPayloadBytes);
            }

            if (eventArrays > 1)
            {
                return RepeatedFailure(("events", eventArrays));
            }

            if (events is not { End: > 0 } range)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, "Version-1 message has no 'events' array.");
            }

            return eventsRead ?? EventArrayReader.Read(utf8, range.Start, range.End);
        }

        if (properties > 0 && allPairs)
        {
            if (legacy is null)
            {
                return DecodeResult.Fail(
                    DeadLetterReason.LegacySettingsMissing,
                    $"Legacy message from the reference producer, but {legacyMissingSettings} not set: set them to the account, project and client of the old producer, then redrive.",
                    isLegacy: true);
            }

            return LegacyDecoder.Decode(utf8.Span, legacy);
        }

        return DecodeResult.Fail(
            DeadLetterReason.Undecodable,
            "Message is neither a BulkDispatch message (no 'format' field) nor a legacy message ({\"visitor_id\": [attributes, snapshot]}).");
    }

    /// <summary>The first envelope field every version has that occurs more than once, with its count, or null.</summary>
    private static (string Name, int Count)? Repeated(int formats, int versions) =>
        formats > 1 ? ("format", formats)
        : versions > 1 ? ("version", versions)
        : null;

    private static DecodeResult RepeatedFailure((string Name, int Count) repeated) =>
        DecodeResult.Fail(
            DeadLetterReason.Undecodable,
            $"Message has {repeated.Count} '{repeated.Name}' fields: JSON readers differ on which one counts, so none of its events is delivered.");

    /// <summary>
    /// Null for versions 1 and 2. A number this reader does not read is <c>unknown-version</c> (a newer producer: upgrade
    /// the flush and redrive); a version that is missing or not a number is a broken envelope no reader reads.
    /// </summary>
    private static DecodeResult? VersionFailure(JsonTokenType token, string? text)
    {
        if (token == JsonTokenType.Number)
        {
            return text is "1" or "2"
                ? null
                : DecodeResult.Fail(
                    DeadLetterReason.UnknownVersion,
                    $"Wire-format version {LogText.Escape(text)} is not supported by this reader (it reads versions {WireFormat.CurrentVersion} and {WireFormat.CompressedVersion}); upgrade the flush, then redrive.");
        }

        string example = $"a version-1 message has \"version\":{WireFormat.CurrentVersion}";
        return token == JsonTokenType.None
            ? DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message has no 'version': {example}.")
            : DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message 'version' must be a number, not {Describe(token, text)}: {example}, unquoted.");
    }

    /// <summary>A JSON value as a failure detail names it: <c>the string "1"</c>, <c>an object</c>, <c>true</c>.</summary>
    internal static string Describe(JsonTokenType token, string? text) => token switch
    {
        JsonTokenType.String => $"the string \"{LogText.Escape(text)}\"",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => LogText.Escape(text), // a number, true, false, null
    };

    // A legacy value is [attributes-array, snapshot-object]; anything else rules the legacy shape out.
    private static bool IsLegacyPair(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return false;
        }

        int depth = reader.CurrentDepth;
        int elements = 0;
        bool shapeOk = true;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth))
        {
            elements++;
            shapeOk &= elements switch
            {
                1 => reader.TokenType == JsonTokenType.StartArray,
                2 => reader.TokenType == JsonTokenType.StartObject,
                _ => false,
            };
            reader.Skip();
        }

        return shapeOk && elements == 2;
    }
}
