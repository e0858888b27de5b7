using System.Text;
using System.Text.Json;

namespace BulkDispatch.Core.Events;

/// <summary>
/// An EventBatch body cut into its shared header (every top-level property but <c>visitors</c>,
/// each kept as its raw <c>"name":value</c> text) and its visitors (each kept as raw JSON text).
/// Nothing is deserialized, so nothing can be rewritten on the way to Optimizely.
/// </summary>
internal sealed class EventBatchParts
{
    private EventBatchParts(IReadOnlyList<ReadOnlyMemory<byte>> headerProperties, IReadOnlyList<ReadOnlyMemory<byte>> visitors)
    {
        HeaderProperties = headerProperties;
        Visitors = visitors;
        int bytes = 0;
        for (int i = 0; i < headerProperties.Count; i++)
        {
            bytes += headerProperties[i].Length;
        }

        HeaderBytes = bytes;
    }

    /// <summary>The raw <c>"name":value</c> text of each top-level property other than visitors, in body order.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> HeaderProperties { get; }

    /// <summary>The raw JSON text of each element of <c>visitors</c>, in body order.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Visitors { get; }

    /// <summary>Sum of the header properties' lengths.</summary>
    public int HeaderBytes { get; }

    /// <summary>Equal for two bodies exactly when their header properties are equal (in any order).</summary>
    /// <remarks>Built on first use: the flush groups by a key it interns instead (RequestPacker.GroupKey).</remarks>
    public string HeaderKey => _headerKey ??= BuildHeaderKey(HeaderProperties);

    private string? _headerKey;

    /// <summary>Splits an EventBatch body; false with a reason when it is not an object with a visitors array.</summary>
    public static bool TryRead(ReadOnlyMemory<byte> body, out EventBatchParts? parts, out string? error)
    {
        parts = null;
        try
        {
            var reader = new Utf8JsonReader(body.Span, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read())
            {
                error = "Event body is not a JSON object.";
                return false;
            }

            if (!new Splitter().TryRead(ref reader, body, out parts, out error))
            {
                return false;
            }

            // Text after the object is not JSON: the reader throws, rather than a request rebuilt without it.
            reader.Read();
            return true;
        }
        catch (JsonException ex)
        {
            parts = null;
            error = $"Event body is not valid JSON: {LogText.Escape(ex.Message)}";
            return false;
        }
    }

    /// <summary>
    /// Splits the bodies of the events of one message as the message's reader meets them, so each body is read once.
    /// Consecutive bodies with the same header share one header list, which lets a packer that recognises the list
    /// work out its group once per message rather than once per event.
    /// </summary>
    internal sealed class Splitter
    {
        private readonly List<ReadOnlyMemory<byte>> _header = new(16);
        private readonly List<ReadOnlyMemory<byte>> _visitors = new(4);
        private EventBatchParts? _previous;

        /// <summary>
        /// Splits the value the reader is on (its first token), whose text is in <paramref name="memory"/>; the parts
        /// are slices of <paramref name="memory"/>. Whatever the outcome, the reader is left on the value's last
        /// token. A value that is not JSON throws, as the reader does.
        /// </summary>
        public bool TryRead(ref Utf8JsonReader reader, ReadOnlyMemory<byte> memory, out EventBatchParts? parts, out string? error)
        {
            parts = null;
            int depth = reader.CurrentDepth;
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                error = "Event body is not a JSON object.";
                return false;
            }

            _header.Clear();
            _visitors.Clear();
            try
            {
                error = ReadProperties(ref reader, memory);
            }
            catch (InvalidOperationException ex)
            {
                // Utf8JsonReader throws this for an escaped lone surrogate ("\ud800") in a property name it compares.
                error = $"Event body holds a string that is not valid UTF-16: {LogText.Escape(ex.Message)}";
            }

            if (error is not null)
            {
                FinishValue(ref reader, depth);
                return false;
            }

            parts = _previous = new EventBatchParts(SameHeaderAsPrevious() ? _previous!.HeaderProperties : _header.ToArray(), _visitors.ToArray());
            return true;
        }

        /// <summary>Reads the object's properties into the lists; null, or why the body is not an EventBatch.</summary>
        private string? ReadProperties(ref Utf8JsonReader reader, ReadOnlyMemory<byte> memory)
        {
            var names = new PropertyNames();
            bool sawVisitors = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int propertyStart = (int)reader.TokenStartIndex;
                if (reader.ValueTextEquals("visitors"u8))
                {
                    if (sawVisitors)
                    {
                        return "Event body has two 'visitors' properties.";
                    }

                    sawVisitors = true;
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        return "Event body's 'visitors' is not an array.";
                    }

                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        int start = (int)reader.TokenStartIndex;
                        if (reader.TokenType != JsonTokenType.StartObject)
                        {
                            return $"Visitor {_visitors.Count} is not a JSON object.";
                        }

                        reader.Skip();
                        _visitors.Add(memory.Slice(start, (int)reader.BytesConsumed - start));
                    }
                }
                else
                {
                    if (names.IsRepeated(ref reader, _header))
                    {
                        // Requests are grouped by the set of header properties in any order, so two bodies repeating a
                        // name in opposite orders would share one header, and Optimizely (last one wins) would file one
                        // body's visitors under the other's value.
                        return $"Event body has two '{LogText.Escape(reader.GetString())}' properties.";
                    }

                    reader.Read();
                    reader.Skip();
                    _header.Add(memory.Slice(propertyStart, (int)reader.BytesConsumed - propertyStart));
                }
            }

            return sawVisitors ? null : "Event body has no 'visitors' array.";
        }

        private bool SameHeaderAsPrevious()
        {
            var previous = _previous?.HeaderProperties;
            if (previous is null || previous.Count != _header.Count)
            {
                return false;
            }

            for (int i = 0; i < _header.Count; i++)
            {
                if (!previous[i].Span.SequenceEqual(_header[i].Span))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Moves the reader, somewhere inside the object that started at <paramref name="depth"/>, to that object's end.</summary>
        private static void FinishValue(ref Utf8JsonReader reader, int depth)
        {
            while (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != depth)
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth > depth)
                {
                    reader.Skip();
                }

                reader.Read();
            }
        }
    }

    /// <summary>
    /// Finds a header property name given twice, compared unescaped as JSON readers compare names. A body has a
    /// handful of plain names: each is compared with the names of the properties already kept, allocating
    /// nothing; an escaped name, or many names (a hostile body), switch to a set.
    /// </summary>
    private struct PropertyNames
    {
        private const int ScanLimit = 16;
        private HashSet<string>? _set;

        /// <summary>True when the name the reader is on is the name of one of <paramref name="kept"/> (the properties before it).</summary>
        public bool IsRepeated(ref Utf8JsonReader reader, List<ReadOnlyMemory<byte>> kept)
        {
            if (_set is null && !reader.ValueIsEscaped && kept.Count < ScanLimit)
            {
                foreach (var property in kept)
                {
                    if (NameOf(property.Span).SequenceEqual(reader.ValueSpan))
                    {
                        return true;
                    }
                }

                return false;
            }

            if (_set is null)
            {
                // Every name kept so far was plain, so its raw text is its name.
                _set = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in kept)
                {
                    _set.Add(Compat.Utf8String(NameOf(property.Span)));
                }
            }

            return !_set.Add(reader.GetString()!);
        }

        /// <summary>The name of a kept <c>"name":value</c> property whose name has no escapes.</summary>
        private static ReadOnlySpan<byte> NameOf(ReadOnlySpan<byte> property) => property.Slice(1, property.Slice(1).IndexOf((byte)'"'));
    }

    private static string BuildHeaderKey(IReadOnlyList<ReadOnlyMemory<byte>> properties)
    {
        var texts = new string[properties.Count];
        for (int i = 0; i < texts.Length; i++)
        {
            texts[i] = Compat.Utf8String(properties[i].Span);
        }

        Array.Sort(texts, StringComparer.Ordinal);
        return string.Join("\u0001", texts);
    }
}
