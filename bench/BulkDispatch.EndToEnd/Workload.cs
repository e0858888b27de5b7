using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace BulkDispatch.EndToEnd;

/// <summary>
/// Real-shaped events: the 931 LogEvents recorded from the Optimizely C# SDK (tests/data), cycled; in
/// round r (event i is template i % 931, round i / 931) every uuid gets r as its first 8 hex digits and
/// every visitor_id the suffix "~r", so each event is distinct. Bodies are made on demand (1M events
/// are 2 GB of bodies: they are never all held).
/// </summary>
internal sealed partial class Workload
{
    private readonly Template[] _templates;

    private Workload(Template[] templates) => _templates = templates;

    public int Templates => _templates.Length;

    public static Workload Load(string repositoryRoot)
    {
        var templates = new List<Template>();
        foreach (var line in File.ReadLines(Path.Combine(repositoryRoot, "tests", "data", "csharp-sdk-logevents.ndjson")))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            string body = root.GetProperty("body").GetRawText(); // raw text, exactly as recorded
            var parts = new List<string>();
            var holes = new List<bool>(); // true: uuid prefix, false: visitor_id end
            int at = 0;
            foreach (Match m in Holes().Matches(body))
            {
                var g = m.Groups["uuid"].Success ? m.Groups["uuid"] : m.Groups["vid"];
                parts.Add(body[at..g.Index]);
                holes.Add(m.Groups["uuid"].Success);
                at = g.Index + g.Length; // a uuid's first 8 hex digits are replaced; a visitor id is kept and the suffix goes after it
                if (!m.Groups["uuid"].Success)
                {
                    parts[^1] += g.Value;
                }
            }

            parts.Add(body[at..]);
            int visitors = root.GetProperty("body").GetProperty("visitors").GetArrayLength();
            templates.Add(new Template(root.GetProperty("url").GetString()!, [.. parts], [.. holes], visitors, holes.Count(h => h)));
        }

        return new Workload([.. templates]);
    }

    public string Url(long i) => _templates[i % _templates.Length].Url;

    public int Visitors(long i) => _templates[i % _templates.Length].Visitors;

    public int Uuids(long i) => _templates[i % _templates.Length].Uuids;

    public long TotalUuids(long events)
    {
        long total = 0;
        for (long i = 0; i < events; i++)
        {
            total += Uuids(i);
        }

        return total;
    }

    public long TotalVisitors(long events)
    {
        long total = 0;
        for (long i = 0; i < events; i++)
        {
            total += Visitors(i);
        }

        return total;
    }

    /// <summary>The SDK body of event <paramref name="i"/>.</summary>
    public string Body(long i)
    {
        var t = _templates[i % _templates.Length];
        long round = i / _templates.Length;
        string uuidPrefix = ((uint)round).ToString("x8", CultureInfo.InvariantCulture);
        string visitorSuffix = "~" + round.ToString(CultureInfo.InvariantCulture);
        var sb = new StringBuilder(t.Parts.Sum(p => p.Length) + 64);
        for (int k = 0; k < t.Parts.Length; k++)
        {
            sb.Append(t.Parts[k]);
            if (k < t.Holes.Length)
            {
                sb.Append(t.Holes[k] ? uuidPrefix : visitorSuffix);
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// The message the reference producer wrote for event <paramref name="i"/>: only its first visitor,
    /// as <c>{"visitor_id": [attributes, first snapshot]}</c>, ASCII-escaped as Python's json.dumps does.
    /// </summary>
    public string LegacyMessage(long i)
    {
        var body = JsonNode.Parse(Body(i))!;
        var visitor = body["visitors"]![0]!;
        var message = new JsonObject
        {
            [visitor["visitor_id"]!.GetValue<string>()] = new JsonArray(visitor["attributes"]!.DeepClone(), visitor["snapshots"]![0]!.DeepClone()),
        };
        return message.ToJsonString(); // default encoder: \uXXXX for non-ASCII, like json.dumps(ensure_ascii=True)
    }

    [GeneratedRegex("\"uuid\":\"(?<uuid>[0-9a-fA-F]{8})|\"visitor_id\":\"(?<vid>(?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex Holes();

    private sealed record Template(string Url, string[] Parts, bool[] Holes, int Visitors, int Uuids);
}
