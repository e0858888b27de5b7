using System.Text.Json;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// Turns a legacy message of the Python reference producer, <c>{"visitor_id": [attributes, snapshot]}</c>,
/// into one event whose body is an EventBatch under the configured header. The visitor id, the
/// attributes and the snapshot are copied as raw JSON text.
/// </summary>
internal static class LegacyDecoder
{
    public static DecodeResult Decode(ReadOnlySpan<byte> utf8, LegacyHeader header)
    {
        using var buffer = new MemoryStream(utf8.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, WireFormat.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("account_id", header.AccountId);
            writer.WriteString("project_id", header.ProjectId);
            writer.WriteString("client_name", header.ClientName);
            writer.WriteString("client_version", header.ClientVersion);
            writer.WriteBoolean("anonymize_ip", header.AnonymizeIp);
            writer.WriteBoolean("enrich_decisions", header.EnrichDecisions);
            writer.WriteStartArray("visitors");

            var reader = new Utf8JsonReader(utf8);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            reader.Read(); // StartObject (checked by the caller)
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                // The reference producer wrote a Python dict: a visitor id twice means the message was not
                // written by it, and readers differ on which entry counts (Python's json keeps the last).
                string id = IdentityOf(ref reader);
                if (!seen.Add(id))
                {
                    return DecodeResult.Fail(
                        DeadLetterReason.Undecodable,
                        $"Legacy message names visitor '{LogText.Escape(id)}' twice: JSON readers differ on which entry counts, so none is delivered.",
                        isLegacy: true);
                }

                // The property name token with its quotes, still escaped exactly as written.
                var visitorId = utf8.Slice((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2);
                reader.Read(); // StartArray
                reader.Read(); // attributes
                var attributes = RawValue(ref reader, utf8);
                reader.Read(); // snapshot
                var snapshot = RawValue(ref reader, utf8);
                reader.Read(); // EndArray

                writer.WriteStartObject();
                writer.WritePropertyName("visitor_id");
                writer.WriteRawValue(visitorId, skipInputValidation: true);
                writer.WritePropertyName("attributes");
                writer.WriteRawValue(attributes, skipInputValidation: true);
                writer.WriteStartArray("snapshots");
                writer.WriteRawValue(snapshot, skipInputValidation: true);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        var body = buffer.ToArray();
        var headers = new Dictionary<string, string> { ["Content-Type"] = "application/json" };
        return DecodeResult.Ok([new DecodedEvent(header.Url, "POST", headers, body, null)], isLegacy: true);
    }

    /// <summary>The visitor id as every JSON reader compares it (unescaped); its escaped text if that is not valid UTF-16.</summary>
    private static string IdentityOf(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Compat.Utf8String(reader.ValueSpan);
        }

        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate: delivered as written (raw), so compared as written.
            return "\0escaped:" + Compat.Utf8String(reader.ValueSpan);
        }
    }

    private static ReadOnlySpan<byte> RawValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8)
    {
        int start = (int)reader.TokenStartIndex;
        reader.Skip();
        return utf8.Slice(start, (int)reader.BytesConsumed - start);
    }
}
