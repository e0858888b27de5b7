using System.Text;
using System.Text.Json;

namespace BulkDispatch.UnitTests.Core;

/// <summary>Reads EventBatch bodies with JsonDocument, independently of the code under test.</summary>
internal static class BatchJson
{
    /// <summary>Each top-level property of <paramref name="body"/> as (name, raw value text), in body order.</summary>
    public static List<(string Name, string Value)> Properties(string body)
    {
        using var document = JsonDocument.Parse(body);
        return document.RootElement.EnumerateObject().Select(p => (p.Name, p.Value.GetRawText())).ToList();
    }

    /// <summary>Every top-level property but visitors, as (name, raw value text), in body order.</summary>
    public static List<(string Name, string Value)> Header(string body) =>
        Properties(body).Where(p => p.Name != "visitors").ToList();

    /// <summary>Reads one raw <c>"name":value</c> property text as (name, raw value text).</summary>
    public static (string Name, string Value) Property(ReadOnlyMemory<byte> rawProperty)
    {
        string text = Encoding.UTF8.GetString(rawProperty.Span);
        using var document = JsonDocument.Parse("{" + text + "}");
        var property = Assert.Single(document.RootElement.EnumerateObject());
        return (property.Name, property.Value.GetRawText());
    }

    /// <summary>Writes a compact body from (name, raw value text) pairs.</summary>
    public static string Body(IEnumerable<(string Name, string Value)> properties) =>
        "{" + string.Join(",", properties.Select(p => JsonSerializer.Serialize(p.Name) + ":" + p.Value)) + "}";

    public static string Text(ReadOnlyMemory<byte> utf8) => Encoding.UTF8.GetString(utf8.Span);

    public static ReadOnlyMemory<byte> Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
