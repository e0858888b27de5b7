using System.Text.Json;
using BulkDispatch.Core.Events;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// Reads the <c>events</c> array of a version-1 message (docs/wire-format.md, Event): each event's fields, with
/// its body as a slice of the message's bytes. A message with one event that cannot be read yields a failure.
/// </summary>
internal static class EventArrayReader
{
    /// <summary>Reads the events array at <paramref name="start"/>..<paramref name="end"/> of the message.</summary>
    public static DecodeResult Read(ReadOnlyMemory<byte> utf8, int start, int end)
    {
        var memory = utf8.Slice(start, end - start);
        var reader = new Utf8JsonReader(memory.Span, MessageDecoder.ReaderOptions);
        reader.Read(); // StartArray
        return Read(ref reader, memory);
    }

    /// <summary>
    /// Reads the events array the reader is on (its StartArray) to its end, so the caller's reader can go
    /// on after it whatever the outcome; <paramref name="memory"/> is the text the reader reads.
    /// </summary>
    public static DecodeResult Read(ref Utf8JsonReader reader, ReadOnlyMemory<byte> memory)
    {
        int arrayDepth = reader.CurrentDepth;
        var events = new List<DecodedEvent>();
        var shared = default(SharedValues);
        var splitter = new EventBatchParts.Splitter();
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
            EventBatchParts? parts = null;
            string? bodyProblem = null;
            EventFields seen = EventFields.None;
            string? problem = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = FieldOf(ref reader);
                if (field != EventFields.None)
                {
                    // A repeated field (or a body given twice, as 'body' and 'bodyText') makes the event mean
                    // different things to different readers: the URL or body one of them would use is not certain.
                    problem ??= (seen & field) != 0 ? $"has two '{NameOf(field)}' fields"
                        : (field & EventFields.AnyBody) != 0 && (seen & EventFields.AnyBody) != 0 ? "has both 'body' and 'bodyText'"
                        : null;
                    seen |= field;
                }

                reader.Read();
                switch (field)
                {
                    case EventFields.Url:
                        url = shared.Url(ref reader, memory);
                        break;
                    case EventFields.Verb:
                        verb = shared.Verb(ref reader, memory);
                        break;
                    case EventFields.Headers:
                        headers = shared.Headers(ref reader, memory);
                        break;
                    case EventFields.EnqueuedAt:
                        enqueuedAt = reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var at) ? at : null;
                        break;
                    case EventFields.Body:
                        // Any JSON value, split into its EventBatch parts on the way: whether it is an EventBatch is the
                        // flush's check per event (invalid-event), the same check, with the same reason, as for a body
                        // carried in 'bodyText'.
                        int bodyStart = (int)reader.TokenStartIndex;
                        splitter.TryRead(ref reader, memory, out parts, out bodyProblem);
                        body = memory.Slice(bodyStart, (int)reader.BytesConsumed - bodyStart);
                        break;
                    case EventFields.BodyText when reader.TokenType == JsonTokenType.String:
                        // Unescaping gives back exactly the bytes the writer escaped.
                        var text = new byte[reader.ValueSpan.Length];
                        int written = reader.CopyString(text);
                        body = new ReadOnlyMemory<byte>(text, 0, written);
                        break;
                    case EventFields.BodyText:
                        problem ??= "has a 'bodyText' that is not a string";
                        break;
                }

                reader.Skip(); // the rest of a value not read above; unknown fields are ignored: later writers may add some
            }

            int index = events.Count;
            if (problem is not null)
            {
                failure = DecodeResult.Fail(DeadLetterReason.Undecodable, $"Event {index} {problem}.");
            }
            else if (string.IsNullOrEmpty(url))
            {
                failure = DecodeResult.Fail(DeadLetterReason.Undecodable, $"Event {index} has no 'url' (a non-empty string).");
            }
            else if (body is not { } bodyBytes)
            {
                failure = DecodeResult.Fail(DeadLetterReason.Undecodable, $"Event {index} has no 'body' (nor 'bodyText').");
            }
            else
            {
                events.Add(new DecodedEvent(url!, verb ?? "POST", headers ?? NoHeaders, bodyBytes, enqueuedAt)
                {
                    Parts = parts,
                    BodyProblem = bodyProblem,
                });
            }
        }

        // The caller's reader must stand on this array's end (a malformed one throws, as Skip did).
        if (reader.TokenType != JsonTokenType.EndArray || reader.CurrentDepth != arrayDepth)
        {
            throw new JsonException("The events array does not end.");
        }

        return failure ?? DecodeResult.Ok(events);
    }

    private static readonly Dictionary<string, string> NoHeaders = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The event fields this reader knows, as flags so an event can note which it has seen.</summary>
    [Flags]
    private enum EventFields
    {
        None = 0,
        Url = 1,
        Verb = 2,
        Headers = 4,
        EnqueuedAt = 8,
        Body = 16,
        BodyText = 32,
        AnyBody = Body | BodyText,
    }

    /// <summary>The known field whose name the reader is on (compared unescaped, as every JSON reader does), or None.</summary>
    private static EventFields FieldOf(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("url"u8) ? EventFields.Url
        : reader.ValueTextEquals("verb"u8) ? EventFields.Verb
        : reader.ValueTextEquals("headers"u8) ? EventFields.Headers
        : reader.ValueTextEquals("enqueuedAt"u8) ? EventFields.EnqueuedAt
        : reader.ValueTextEquals("body"u8) ? EventFields.Body
        : reader.ValueTextEquals("bodyText"u8) ? EventFields.BodyText
        : EventFields.None;

    private static string NameOf(EventFields field) => field switch
    {
        EventFields.Url => "url",
        EventFields.Verb => "verb",
        EventFields.Headers => "headers",
        EventFields.EnqueuedAt => "enqueuedAt",
        EventFields.Body => "body",
        _ => "bodyText",
    };

    /// <summary>
    /// The last url, verb and headers read, with the text they were read from: the events of one message nearly always
    /// share them, so each is read (and allocated) once per message rather than once per event. Events may share the
    /// headers dictionary: it is only ever read.
    /// </summary>
    private struct SharedValues
    {
        private ReadOnlyMemory<byte> _urlText;
        private ReadOnlyMemory<byte> _verbText;
        private ReadOnlyMemory<byte> _headersText;
        private string? _url;
        private string? _verb;
        private Dictionary<string, string>? _headers;

        public string? Url(ref Utf8JsonReader reader, ReadOnlyMemory<byte> memory) => String(ref reader, memory, ref _urlText, ref _url);

        public string? Verb(ref Utf8JsonReader reader, ReadOnlyMemory<byte> memory) => String(ref reader, memory, ref _verbText, ref _verb);

        /// <summary>The headers object the reader is on, read to its end.</summary>
        public Dictionary<string, string> Headers(ref Utf8JsonReader reader, ReadOnlyMemory<byte> memory)
        {
            int start = (int)reader.TokenStartIndex;
            var end = reader;
            end.Skip();
            var text = memory.Slice(start, (int)end.BytesConsumed - start);
            if (_headers is not null && text.Span.SequenceEqual(_headersText.Span))
            {
                reader = end;
                return _headers;
            }

            _headers = RecentValues.Headers(text.Span, ref reader);
            _headersText = text;
            return _headers;
        }

        /// <summary>The string the reader is on (compared as written, escapes and all), or null for any other value.</summary>
        private static string? String(ref Utf8JsonReader reader, ReadOnlyMemory<byte> memory, ref ReadOnlyMemory<byte> lastText, ref string? last)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                return null;
            }

            int start = (int)reader.TokenStartIndex;
            var text = memory.Slice(start, (int)reader.BytesConsumed - start);
            if (last is null || !text.Span.SequenceEqual(lastText.Span))
            {
                last = RecentValues.String(text.Span, ref reader);
                lastText = text;
            }

            return last;
        }
    }

    /// <summary>
    /// The url, verb and headers values of recent messages, by their raw text: a run sees a handful, so a message after
    /// the first of its kind allocates none of them. Per thread, few and short (the texts are queue data: they are not
    /// trusted to be few), replaced round robin. Headers dictionaries are shared: they are only ever read.
    /// </summary>
    private static class RecentValues
    {
        private const int Capacity = 8;
        private const int MaxRawBytes = 1024;

        [ThreadStatic]
        private static Entry<string>[]? t_strings;

        [ThreadStatic]
        private static Entry<Dictionary<string, string>>[]? t_headers;

        [ThreadStatic]
        private static int t_nextString;

        [ThreadStatic]
        private static int t_nextHeaders;

        /// <summary>The string the reader is on, whose raw text (quotes and escapes included) is <paramref name="raw"/>.</summary>
        public static string String(ReadOnlySpan<byte> raw, ref Utf8JsonReader reader) =>
            Find(t_strings ??= new Entry<string>[Capacity], raw) ?? Remember(t_strings, ref t_nextString, raw, reader.GetString()!);

        /// <summary>The headers object the reader is on (read to its end), whose raw text is <paramref name="raw"/>.</summary>
        public static Dictionary<string, string> Headers(ReadOnlySpan<byte> raw, ref Utf8JsonReader reader)
        {
            if (Find(t_headers ??= new Entry<Dictionary<string, string>>[Capacity], raw) is { } known)
            {
                reader.Skip();
                return known;
            }

            return Remember(t_headers, ref t_nextHeaders, raw, ReadHeaders(ref reader));
        }

        private static T? Find<T>(Entry<T>[] entries, ReadOnlySpan<byte> raw)
            where T : class
        {
            foreach (var entry in entries)
            {
                if (entry.Raw is not null && raw.SequenceEqual(entry.Raw))
                {
                    return entry.Value;
                }
            }

            return null;
        }

        private static T Remember<T>(Entry<T>[] entries, ref int next, ReadOnlySpan<byte> raw, T value)
        {
            if (raw.Length <= MaxRawBytes)
            {
                entries[next] = new Entry<T>(raw.ToArray(), value);
                next = (next + 1) % Capacity;
            }

            return value;
        }

        private readonly record struct Entry<T>(byte[]? Raw, T Value);
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
