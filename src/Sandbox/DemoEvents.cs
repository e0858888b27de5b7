using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Sandbox;

/// <summary>
/// Makes realistic SDK events for the demo, the tests and the benchmarks: EventBatch bodies shaped
/// like the Optimizely C# SDK's (impressions with decisions, conversions with tags; attributes of every
/// type; non-ASCII, quotes and emoji in ids), for two accounts/projects on the US and EU endpoints,
/// 1 to 10 visitors per event as the SDK's batch processor makes them. Seeded, so runs repeat.
/// </summary>
public static class DemoEvents
{
    private static readonly (string Account, string Project, string Url)[] Projects =
    [
        ("1592310167", "7720880029", "https://logx.optimizely.com/v1/events"),
        ("2048000123", "9911002233", "https://eu.logx.optimizely.com/v1/events"),
    ];

    private static readonly string[] Names = ["zoë", "李雷", "o'brien", "say \"hi\"", "ann", "bjørn", "😀-fan", "plain"];
    private static readonly string[] Cities = ["Zürich", "São Paulo", "Kraków", "Austin", "東京"];
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Events holding <paramref name="visitors"/> visitors in all.</summary>
    public static IReadOnlyList<QueuedEvent> Generate(int visitors, int seed = 42) => Make(seed, (_, made) => made < visitors, visitors);

    /// <summary>Exactly <paramref name="events"/> events of 1 to 10 visitors each.</summary>
    public static IReadOnlyList<QueuedEvent> GenerateEvents(int events, int seed = 42) => Make(seed, (eventCount, _) => eventCount < events, int.MaxValue);

    private static List<QueuedEvent> Make(int seed, Func<int, int, bool> more, int visitorLimit)
    {
        var random = new Random(seed);
        var events = new List<QueuedEvent>();
        int made = 0;
        var at = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        while (more(events.Count, made))
        {
            int count = (int)Math.Min(visitorLimit - (long)made, random.Next(1, 11));
            var project = Projects[random.Next(Projects.Length)];
            string body = Body(random, project.Account, project.Project, count, made, at);
            events.Add(new QueuedEvent(project.Url, "POST", new Dictionary<string, string> { ["Content-Type"] = "application/json" }, body, at));
            made += count;
            at = at.AddMilliseconds(random.Next(1, 50));
        }

        return events;
    }

    /// <summary>Packs events into wire-format messages of at most <paramref name="maxMessageBytes"/> bytes each.</summary>
    public static IReadOnlyList<string> ToMessages(IEnumerable<QueuedEvent> events, int maxMessageBytes = 64 * 1024)
    {
        var messages = new List<string>();
        var current = new List<QueuedEvent>();
        int bytes = WireFormat.EnvelopeBytes;
        foreach (var e in events)
        {
            int size = Encoding.UTF8.GetByteCount(e.Body) + 256;
            if (current.Count > 0 && bytes + size > maxMessageBytes)
            {
                messages.Add(WireFormat.Encode(current));
                current.Clear();
                bytes = WireFormat.EnvelopeBytes;
            }

            current.Add(e);
            bytes += size;
        }

        if (current.Count > 0)
        {
            messages.Add(WireFormat.Encode(current));
        }

        return messages;
    }

    private static string Body(Random random, string account, string project, int visitors, int firstVisitor, DateTimeOffset at)
    {
        var buffer = new ArrayBufferWriter<byte>(1024 * visitors);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("account_id", account);
            w.WriteString("project_id", project);
            w.WriteString("revision", "15");
            w.WriteString("client_name", "csharp-sdk");
            w.WriteString("client_version", "4.4.0");
            w.WriteBoolean("anonymize_ip", false);
            w.WriteBoolean("enrich_decisions", true);
            w.WriteStartArray("visitors");
            for (int i = 0; i < visitors; i++)
            {
                Visitor(w, random, firstVisitor + i, at);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Visitor(Utf8JsonWriter w, Random random, int n, DateTimeOffset at)
    {
        w.WriteStartObject();
        w.WriteStartArray("snapshots");
        w.WriteStartObject();
        bool conversion = random.Next(3) == 0;
        w.WriteStartArray("decisions");
        if (!conversion)
        {
            w.WriteStartObject();
            w.WriteString("campaign_id", "6");
            w.WriteString("experiment_id", "122241");
            w.WriteStartObject("metadata");
            w.WriteString("flag_key", "checkout_flow");
            w.WriteString("rule_key", "test_experiment");
            w.WriteString("rule_type", "feature-test");
            w.WriteString("variation_key", random.Next(2) == 0 ? "control" : "treatment");
            w.WriteBoolean("enabled", true);
            w.WriteEndObject();
            w.WriteString("variation_id", "122242");
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("events");
        w.WriteStartObject();
        w.WriteString("entity_id", conversion ? "7718020063" : "6");
        w.WriteString("uuid", UuidFor(random));
        w.WriteString("key", conversion ? "purchase" : "campaign_activated");
        w.WriteNumber("timestamp", at.ToUnixTimeMilliseconds());
        if (conversion)
        {
            int revenue = random.Next(100, 100_000);
            w.WriteNumber("revenue", revenue);
            w.WriteNumber("value", Math.Round(random.NextDouble() * 100, 3));
            w.WriteStartObject("tags");
            w.WriteNumber("revenue", revenue);
            w.WriteNumber("value", 1.5);
            w.WriteString("category", Cities[random.Next(Cities.Length)]);
            w.WriteBoolean("gift", random.Next(2) == 0);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteStartArray("attributes");
        Attribute(w, "7723280020", "device_type", v => v.WriteStringValue(random.Next(2) == 0 ? "iPhone" : "Android"));
        Attribute(w, "7723340004", "location", v => v.WriteStringValue(Cities[random.Next(Cities.Length)]));
        Attribute(w, "323434545", "boolean_key", v => v.WriteBooleanValue(random.Next(2) == 0));
        Attribute(w, "616727838", "integer_key", v => v.WriteNumberValue(random.Next(0, 1000)));
        Attribute(w, "808797686", "double_key", v => v.WriteNumberValue(Math.Round(random.NextDouble() * 1000, 3)));
        Attribute(w, "$opt_bot_filtering", "$opt_bot_filtering", v => v.WriteBooleanValue(true));
        w.WriteEndArray();
        w.WriteString("visitor_id", string.Create(CultureInfo.InvariantCulture, $"{Names[n % Names.Length]}-{n}"));
        w.WriteEndObject();
    }

    private static void Attribute(Utf8JsonWriter w, string entityId, string key, Action<Utf8JsonWriter> value)
    {
        w.WriteStartObject();
        w.WriteString("entity_id", entityId);
        w.WriteString("key", key);
        w.WriteString("type", "custom");
        w.WritePropertyName("value");
        value(w);
        w.WriteEndObject();
    }

    private static string UuidFor(Random random)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        return new Guid(bytes).ToString();
    }
}
