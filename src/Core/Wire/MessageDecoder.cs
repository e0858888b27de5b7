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
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 256 };

    /// <param name="messageBody">The SQS message body.</param>
    /// <param name="legacy">The header for legacy messages, or null when the legacy settings are missing.</param>
    /// <param name="legacyMissingSettings">Names of the missing legacy settings, for the failure detail.</param>
    public static DecodeResult Decode(string messageBody, LegacyHeader? legacy, string legacyMissingSettings = "")
    {
        Compat.NotNull(messageBody, nameof(messageBody));
        return Decode(Encoding.UTF8.GetBytes(messageBody), legacy, legacyMissingSettings);
    }

    /// <summary>
    /// Decodes a message already in UTF-8. The events' bodies are slices of <paramref name="utf8"/>, so
    /// the caller keeps it unchanged while any of them is in use (the flush rents it per message).
    /// </summary>
    public static DecodeResult Decode(ReadOnlyMemory<byte> utf8, LegacyHeader? legacy, string legacyMissingSettings = "")
    {
        try
        {
            return DecodeUtf8(utf8, legacy, legacyMissingSettings);
        }
        catch (JsonException ex)
        {
            return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader throws this for an escaped lone surrogate ("\ud800") in a name or string it compares or reads.
            return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message holds a string that is not valid UTF-16: {ex.Message}");
        }
    }

    private static DecodeResult DecodeUtf8(ReadOnlyMemory<byte> utf8, LegacyHeader? legacy, string legacyMissingSettings)
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
        bool allPairs = true;
        int properties = 0;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            properties++;
            if (reader.ValueTextEquals("format"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    format = reader.GetString();
                    allPairs = false;
                }
                else
                {
                    // Not a format marker if the message is legacy: a visitor may be called "format".
                    format = "";
                    allPairs &= IsLegacyPair(ref reader);
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("version"u8))
            {
                reader.Read();
                versionToken = reader.TokenType;
                versionText = Compat.Utf8String(reader.ValueSpan);
                allPairs &= IsLegacyPair(ref reader);
            }
            else if (format is { Length: > 0 } && reader.ValueTextEquals("events"u8))
            {
                // A format marker came first (the writer puts it there): not legacy, so the events are
                // read in this same pass instead of being skipped here and parsed again below.
                reader.Read();
                eventsRead = reader.TokenType == JsonTokenType.StartArray ? ReadEvents(ref reader, utf8) : null;
                if (eventsRead is null)
                {
                    reader.Skip();
                }

                events = eventsRead is null ? (0, -1) : (0, 1);
            }
            else if (reader.ValueTextEquals("events"u8))
            {
                reader.Read();
                int start = (int)reader.TokenStartIndex;
                bool isArray = reader.TokenType == JsonTokenType.StartArray;
                allPairs &= IsLegacyPair(ref reader);
                events = isArray ? (start, (int)reader.BytesConsumed) : (start, -1);
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
            if (format != WireFormat.FormatName)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, $"Message format '{format}' is not '{WireFormat.FormatName}'.");
            }

            if (versionToken != JsonTokenType.Number || versionText != "1")
            {
                string shown = versionToken == JsonTokenType.None ? "(missing)" : versionText ?? "";
                return DecodeResult.Fail(
                    DeadLetterReason.UnknownVersion,
                    $"Wire-format version {shown} is not supported by this reader (it reads version {WireFormat.CurrentVersion}); upgrade the flush.");
            }

            if (events is not { End: > 0 } range)
            {
                return DecodeResult.Fail(DeadLetterReason.Undecodable, "Version-1 message has no 'events' array.");
            }

            return eventsRead ?? ReadEvents(utf8, range.Start, range.End);
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

    private static DecodeResult ReadEvents(ReadOnlyMemory<byte> utf8, int start, int end)
    {
        var memory = utf8.Slice(start, end - start);
        var reader = new Utf8JsonReader(memory.Span, ReaderOptions);
        reader.Read(); // StartArray
        return ReadEvents(ref reader, memory);
    }

    /// <summary>
    /// Reads the events array the reader is on (its StartArray) to its end, so the caller's reader can go
    /// on after it whatever the outcome; <paramref name="memory"/> is the text the reader reads.
    /// </summary>
    private static DecodeResult ReadEvents(ref Utf8JsonReader reader, ReadOnlyMemory<byte> memory)
    {
        int arrayDepth = reader.CurrentDepth;
        var events = new List<DecodedEvent>();
        DecodeResult? failure = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (failure is not null || reader.TokenType != JsonTokenType.StartObject)
            {
                failure ??= DecodeResult.Fail(DeadLetterReason.Undecodable, $"Event {events.Count} is not a JSON object.");
                reader.Skip();
                continue;
            }

            string? url = null;
            string? verb = null;
            Dictionary<string, string>? headers = null;
            DateTimeOffset? enqueuedAt = null;
            ReadOnlyMemory<byte>? body = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("url"u8))
                {
                    reader.Read();
                    url = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("verb"u8))
                {
                    reader.Read();
                    verb = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("headers"u8))
                {
                    reader.Read();
                    headers = ReadHeaders(ref reader);
                }
                else if (reader.ValueTextEquals("enqueuedAt"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var at))
                    {
                        enqueuedAt = at;
                    }

                    reader.Skip();
                }
                else if (reader.ValueTextEquals("body"u8))
                {
                    reader.Read();
                    int bodyStart = (int)reader.TokenStartIndex;
                    bool isObject = reader.TokenType == JsonTokenType.StartObject;
                    reader.Skip();
                    int bodyEnd = (int)reader.BytesConsumed;
                    body = isObject ? memory.Slice(bodyStart, bodyEnd - bodyStart) : ReadOnlyMemory<byte>.Empty;
                }
                else if (reader.ValueTextEquals("bodyText"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        // Unescaping gives back exactly the bytes the writer escaped.
                        var text = new byte[reader.ValueSpan.Length];
                        int written = reader.CopyString(text);
                        body = new ReadOnlyMemory<byte>(text, 0, written);
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip(); // unknown fields are ignored: later writers may add some
                }
            }

            int index = events.Count;
            if (string.IsNullOrEmpty(url))
            {
                failure = DecodeResult.Fail(DeadLetterReason.Undecodable, $"Event {index} has no 'url'.");
            }
            else if (body is not { Length: > 0 } bodyBytes)
            {
                failure = DecodeResult.Fail(DeadLetterReason.Undecodable, $"Event {index} has no 'body' object (nor 'bodyText').");
            }
            else
            {
                events.Add(new DecodedEvent(url!, verb ?? "POST", headers ?? new Dictionary<string, string>(), bodyBytes, enqueuedAt));
            }
        }

        // The caller's reader must stand on this array's end (a malformed one throws, as Skip did).
        if (reader.TokenType != JsonTokenType.EndArray || reader.CurrentDepth != arrayDepth)
        {
            throw new JsonException("The events array does not end.");
        }

        return failure ?? DecodeResult.Ok(events);
    }

    private static Dictionary<string, string> ReadHeaders(ref Utf8JsonReader reader)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return headers;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            if (reader.TokenType == JsonTokenType.String)
            {
                headers[name] = reader.GetString()!;
            }
            else
            {
                reader.Skip();
            }
        }

        return headers;
    }
}
