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
            return TryReadCore(body, out parts, out error);
        }
        catch (JsonException ex)
        {
            error = $"Event body is not valid JSON: {LogText.Escape(ex.Message)}";
            return false;
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader throws this for an escaped lone surrogate ("\ud800") in a property name it compares.
            error = $"Event body holds a string that is not valid UTF-16: {LogText.Escape(ex.Message)}";
            return false;
        }
    }

    private static bool TryReadCore(ReadOnlyMemory<byte> body, out EventBatchParts? parts, out string? error)
    {
        parts = null;
        var reader = new Utf8JsonReader(body.Span, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            error = "Event body is not a JSON object.";
            return false;
        }

        var header = new List<ReadOnlyMemory<byte>>(8);
        var names = new PropertyNames();
        List<ReadOnlyMemory<byte>>? visitors = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int propertyStart = (int)reader.TokenStartIndex;
            if (reader.ValueTextEquals("visitors"u8))
            {
                if (visitors is not null)
                {
                    error = "Event body has two 'visitors' properties.";
                    return false;
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    error = "Event body's 'visitors' is not an array.";
                    return false;
                }

                visitors = [];
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    int start = (int)reader.TokenStartIndex;
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        error = $"Visitor {visitors.Count} is not a JSON object.";
                        return false;
                    }

                    reader.Skip();
                    visitors.Add(body.Slice(start, (int)reader.BytesConsumed - start));
                }
            }
            else
            {
                if (names.IsRepeated(ref reader, header))
                {
                    // Requests are grouped by the set of header properties in any order, so two bodies repeating a
                    // name in opposite orders would share one header, and Optimizely (last one wins) would file one
                    // body's visitors under the other's value.
                    error = $"Event body has two '{LogText.Escape(reader.GetString())}' properties.";
                    return false;
                }

                reader.Read();
                reader.Skip();
                header.Add(body.Slice(propertyStart, (int)reader.BytesConsumed - propertyStart));
            }
        }

        if (visitors is null)
        {
            error = "Event body has no 'visitors' array.";
            return false;
        }

        error = null;
        parts = new EventBatchParts(header, visitors);
        return true;
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
