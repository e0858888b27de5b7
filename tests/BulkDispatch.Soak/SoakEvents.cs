using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BulkDispatch.Soak;

/// <summary>One SDK event as the application hands it to the producer.</summary>
internal sealed record SoakEvent(string Url, string Verb, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>
/// Seeded SDK events derived from the LogEvents recorded from the real C# SDK
/// (tests/data/csharp-sdk-logevents.ndjson): each copy gets fresh visitor ids and a fresh uuid for every
/// snapshot event, so every published event is identifiable by uuid wherever it ends up. In a seeded
/// share of events one visitor is marked (id prefix <see cref="MarkedPrefix"/>) for the Event API to reject.
/// </summary>
internal sealed class SoakEvents
{
    /// <summary>The visitor id prefix of marked visitors: the Event API answers 400 for any request holding one.</summary>
    public const string MarkedPrefix = "soak-reject-";

    private const string PlainPrefix = "soak-";

    // Non-ASCII stays as it is, as the SDK writes it.
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly List<SoakEvent> _templates;
    private readonly Random _random;
    private readonly double _rejectRate;
    private readonly int _count;

    public SoakEvents(int count, int seed, double rejectRate, string? file = null)
    {
        _count = count;
        _random = new Random(seed);
        _rejectRate = rejectRate;
        _templates = Load(file ?? Path.Combine(AppContext.BaseDirectory, "data", "csharp-sdk-logevents.ndjson"));
    }

    /// <summary>Every uuid made so far, with whether its visitor is marked.</summary>
    public Dictionary<string, bool> Uuids { get; } = new(StringComparer.Ordinal);

    /// <summary>Visitors made so far (one per visitor element of a body).</summary>
    public int Visitors { get; private set; }

    /// <summary>Marked visitors made so far.</summary>
    public int MarkedVisitors { get; private set; }

    /// <summary>Whether a visitor id is a marked one.</summary>
    public static bool IsMarked(string visitorId) => visitorId.StartsWith(MarkedPrefix, StringComparison.Ordinal);

    /// <summary>Event number <paramref name="index"/>; call in order 0, 1, 2, ... for a reproducible run.</summary>
    public SoakEvent Next(int index)
    {
        var template = _templates[_random.Next(_templates.Count)];
        var body = JsonNode.Parse(template.Body)!.AsObject();
        var visitors = body["visitors"]!.AsArray();
        // At least one marked visitor in every run (in the middle), whatever the rate.
        int marked = _random.NextDouble() < _rejectRate || index == _count / 2 ? _random.Next(visitors.Count) : -1;
        for (int v = 0; v < visitors.Count; v++)
        {
            var visitor = visitors[v]!.AsObject();
            bool isMarked = v == marked;
            string original = visitor["visitor_id"]?.GetValue<string>() ?? "";
            visitor["visitor_id"] = string.Create(CultureInfo.InvariantCulture, $"{(isMarked ? MarkedPrefix : PlainPrefix)}{index}-{v}-{original}");
            Visitors++;
            MarkedVisitors += isMarked ? 1 : 0;
            foreach (var snapshot in visitor["snapshots"]!.AsArray())
            {
                foreach (var e in snapshot!["events"]!.AsArray())
                {
                    string uuid = NewUuid();
                    e!["uuid"] = uuid;
                    Uuids.Add(uuid, isMarked);
                }
            }
        }

        return template with { Body = body.ToJsonString(Relaxed) };
    }

    /// <summary>The uuids of every snapshot event of one visitor (raw JSON of a <c>visitors</c> element).</summary>
    public static IEnumerable<string> UuidsOf(JsonElement visitor)
    {
        foreach (var snapshot in visitor.GetProperty("snapshots").EnumerateArray())
        {
            foreach (var e in snapshot.GetProperty("events").EnumerateArray())
            {
                yield return e.GetProperty("uuid").GetString()!;
            }
        }
    }

    private string NewUuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        _random.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4, as the SDK's (Guid's byte order puts it in byte 7)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes).ToString("D");
    }

    private static List<SoakEvent> Load(string file)
    {
        var events = new List<SoakEvent>();
        foreach (var line in File.ReadLines(file))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            var headers = root.GetProperty("headers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.OrdinalIgnoreCase);
            events.Add(new SoakEvent(root.GetProperty("url").GetString()!, root.GetProperty("httpVerb").GetString()!, headers, root.GetProperty("body").GetRawText()));
        }

        if (events.Count == 0)
        {
            throw new InvalidDataException($"{file} holds no LogEvents.");
        }

        return events;
    }
}
