using System.Text;
using System.Text.Json;

namespace BulkDispatch.Tests.Shared;

/// <summary>One LogEvent recorded from the real Optimizely C# SDK; <see cref="Body"/> is the body's exact text.</summary>
internal sealed record RecordedLogEvent(string Url, string HttpVerb, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>
/// The LogEvents recorded from the real Optimizely C# SDK (tests/data/csharp-sdk-logevents.ndjson,
/// copied to the test output under data/). Each body is sliced out of its line as raw text, never
/// re-serialized, so tests see exactly the bytes the SDK produced.
/// </summary>
internal static class TestVectors
{
    private static readonly Lazy<IReadOnlyList<RecordedLogEvent>> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string FilePath { get; } = Path.Combine(AppContext.BaseDirectory, "data", "csharp-sdk-logevents.ndjson");

    /// <summary>All recorded LogEvents, in file order.</summary>
    public static IReadOnlyList<RecordedLogEvent> All => Loaded.Value;

    /// <summary>The raw JSON text of each element of the body's <c>visitors</c> array, in order.</summary>
    public static IEnumerable<string> VisitorsOf(string body)
    {
        using var document = JsonDocument.Parse(body);
        var visitors = new List<string>();
        foreach (var visitor in document.RootElement.GetProperty("visitors").EnumerateArray())
        {
            visitors.Add(visitor.GetRawText());
        }

        return visitors;
    }

    private static List<RecordedLogEvent> Load()
    {
        byte[] file = File.ReadAllBytes(FilePath);
        var events = new List<RecordedLogEvent>(1024);
        int lineStart = 0;
        int lineNumber = 0;
        while (lineStart < file.Length)
        {
            int newline = Array.IndexOf(file, (byte)'\n', lineStart);
            int lineEnd = newline < 0 ? file.Length : newline;
            lineNumber++;
            var line = file.AsSpan(lineStart, lineEnd - lineStart).TrimEnd((byte)'\r');
            if (!line.IsEmpty)
            {
                events.Add(ParseLine(line, lineNumber));
            }

            lineStart = lineEnd + 1;
        }

        return events;
    }

    private static RecordedLogEvent ParseLine(ReadOnlySpan<byte> line, int lineNumber)
    {
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 256 });
        string? url = null;
        string? verb = null;
        Dictionary<string, string>? headers = null;
        string? body = null;

        Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject, lineNumber, "not a JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "url":
                    url = reader.GetString();
                    break;
                case "httpVerb":
                    verb = reader.GetString();
                    break;
                case "headers":
                    Expect(reader.TokenType == JsonTokenType.StartObject, lineNumber, "headers is not an object");
                    headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        string header = reader.GetString()!;
                        reader.Read();
                        headers[header] = reader.GetString()!;
                    }

                    break;
                case "body":
                    int start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    body = Encoding.UTF8.GetString(line[start..(int)reader.BytesConsumed]);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        Expect(url is not null && verb is not null && headers is not null && body is not null, lineNumber, "a field is missing");
        return new RecordedLogEvent(url!, verb!, headers!, body!);
    }

    private static void Expect(bool condition, int lineNumber, string problem)
    {
        if (!condition)
        {
            throw new InvalidDataException($"{FilePath} line {lineNumber}: {problem}.");
        }
    }
}
