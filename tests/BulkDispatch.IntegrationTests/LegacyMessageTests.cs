using System.Text.Json;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using BulkDispatch.Tests.Shared;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// Messages of the Python reference producer, <c>{"visitor_id": [attributes, snapshot]}</c>, are delivered under
/// the header from the <c>BulkDispatch__Legacy__*</c> settings, or dead-lettered with a reason naming the missing ones.
/// </summary>
public sealed class LegacyMessageTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private static readonly Dictionary<string, string?> LegacySettings = new()
    {
        ["BulkDispatch:Legacy:AccountId"] = "4455667788",
        ["BulkDispatch:Legacy:ProjectId"] = "9988776655",
        ["BulkDispatch:Legacy:ClientName"] = "python-sdk",
        ["BulkDispatch:Legacy:ClientVersion"] = "3.1.0",
    };

    /// <summary>A legacy message and the visitors it must become, as raw JSON text.</summary>
    private sealed record LegacyMessage(string Body, IReadOnlyList<string> ExpectedVisitors);

    [Fact]
    public async Task Legacy_messages_are_delivered_under_the_configured_header_with_their_raw_visitor_parts()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var legacy = LegacyMessages(150);
        var v1 = DemoEvents.Generate(120, seed: 5);
        var messages = Interleave(legacy.Select(l => l.Body), FlushHarness.Messages(v1, perMessage: 2));
        await h.EnqueueAsync(messages);

        var report = await h.FlushAsync(LegacySettings);

        var legacyVisitors = legacy.SelectMany(l => l.ExpectedVisitors).ToList();
        Assert.Equal(Sorted(legacyVisitors.Concat(VisitorsOf(v1))), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.All(h.EventApi.Requests, r => Assert.True(r.Accepted, r.SchemaError));

        // Legacy visitors travel only in requests with the configured header, and nothing else does.
        var legacySet = legacyVisitors.ToHashSet(StringComparer.Ordinal);
        var legacyRequests = h.EventApi.AcceptedRequests.Where(r => r.VisitorJson.Any(legacySet.Contains)).ToList();
        Assert.NotEmpty(legacyRequests);
        foreach (var request in legacyRequests)
        {
            Assert.All(request.VisitorJson, v => Assert.Contains(v, legacySet));
            using var doc = JsonDocument.Parse(request.Body);
            var root = doc.RootElement;
            Assert.Equal(
                ["account_id", "anonymize_ip", "client_name", "client_version", "enrich_decisions", "project_id", "visitors"],
                root.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.Equal("4455667788", root.GetProperty("account_id").GetString());
            Assert.Equal("9988776655", root.GetProperty("project_id").GetString());
            Assert.Equal("python-sdk", root.GetProperty("client_name").GetString());
            Assert.Equal("3.1.0", root.GetProperty("client_version").GetString());
            Assert.True(root.GetProperty("anonymize_ip").GetBoolean());
            Assert.True(root.GetProperty("enrich_decisions").GetBoolean());
        }

        Assert.True(report.Complete, report.ToText());
        Assert.Empty(report.DeadLettered);
        Assert.Equal(messages.Count, report.MessagesDeleted);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    [Fact]
    public async Task Legacy_messages_without_legacy_settings_are_dead_lettered_naming_every_missing_setting_while_v1_messages_are_delivered()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var legacy = LegacyMessages(40);
        var v1 = DemoEvents.Generate(150, seed: 6);
        var messages = Interleave(legacy.Select(l => l.Body), FlushHarness.Messages(v1, perMessage: 2));
        await h.EnqueueAsync(messages);

        var report = await h.FlushAsync();

        Assert.Equal(Sorted(VisitorsOf(v1)), Sorted(h.AcceptedVisitors()));
        Assert.Equal(0, h.EventApi.SchemaFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(messages.Count, report.MessagesDeleted);
        Assert.Equal(new Dictionary<string, long> { [DeadLetterReason.LegacySettingsMissing] = legacy.Count }, report.DeadLettered.ToDictionary());

        var dlq = await h.ReceiveAllAsync(h.DeadLetterQueueUrl);
        Assert.Equal(Sorted(legacy.Select(l => l.Body)), Sorted(dlq.Select(m => m.Body)));
        Assert.All(dlq, m =>
        {
            Assert.Equal(DeadLetterReason.LegacySettingsMissing, FlushHarness.Reason(m));
            string detail = FlushHarness.Detail(m);
            foreach (var name in new[] { "BulkDispatch__Legacy__AccountId", "BulkDispatch__Legacy__ProjectId", "BulkDispatch__Legacy__ClientName", "BulkDispatch__Legacy__ClientVersion" })
            {
                Assert.Contains(name, detail, StringComparison.Ordinal);
            }
        });
    }

    [Fact]
    public async Task A_partly_configured_legacy_header_dead_letters_naming_only_the_missing_setting()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var legacy = LegacyMessages(5);
        await h.EnqueueAsync(legacy.Select(l => l.Body));

        var settings = new Dictionary<string, string?>(LegacySettings) { ["BulkDispatch:Legacy:ClientVersion"] = " " };
        var report = await h.FlushAsync(settings);

        Assert.Empty(h.EventApi.Requests);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(legacy.Count, report.DeadLettered.GetValueOrDefault(DeadLetterReason.LegacySettingsMissing));
        var dlq = await h.ReceiveAllAsync(h.DeadLetterQueueUrl);
        Assert.Equal(Sorted(legacy.Select(l => l.Body)), Sorted(dlq.Select(m => m.Body)));
        Assert.All(dlq, m =>
        {
            string detail = FlushHarness.Detail(m);
            Assert.Contains("BulkDispatch__Legacy__ClientVersion", detail, StringComparison.Ordinal);
            Assert.DoesNotContain("BulkDispatch__Legacy__AccountId", detail, StringComparison.Ordinal);
            Assert.DoesNotContain("BulkDispatch__Legacy__ProjectId", detail, StringComparison.Ordinal);
            Assert.DoesNotContain("BulkDispatch__Legacy__ClientName", detail, StringComparison.Ordinal);
        });
    }

    /// <summary>
    /// Legacy messages built from recorded SDK visitors: the raw visitor id, raw attributes and raw first snapshot,
    /// with Python's <c>json.dumps</c> spacing between them and its <c>\u</c> escapes for non-ASCII text
    /// (<c>ensure_ascii</c>, also what keeps emoji ids acceptable to SQS). Most hold one visitor; every fifth holds two.
    /// </summary>
    private static List<LegacyMessage> LegacyMessages(int visitors)
    {
        var parts = new List<(string Id, string IdRaw, string Attributes, string Snapshot)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var visitor in TestVectors.All.SelectMany(v => TestVectors.VisitorsOf(v.Body)))
        {
            using var doc = JsonDocument.Parse(visitor);
            var root = doc.RootElement;
            string id = root.GetProperty("visitor_id").GetString()!;
            if (!seen.Add(id))
            {
                continue; // distinct ids, so a two-visitor message never repeats a key
            }

            parts.Add((
                id,
                PythonAscii(root.GetProperty("visitor_id").GetRawText()),
                PythonAscii(root.GetProperty("attributes").GetRawText()),
                PythonAscii(root.GetProperty("snapshots")[0].GetRawText())));
            if (parts.Count == visitors)
            {
                break;
            }
        }

        Assert.Equal(visitors, parts.Count);
        var messages = new List<LegacyMessage>();
        for (int i = 0; i < parts.Count;)
        {
            int take = i % 5 == 4 && i + 1 < parts.Count ? 2 : 1;
            var chunk = parts.Skip(i).Take(take).ToList();
            string body = "{" + string.Join(", ", chunk.Select(p => $"{p.IdRaw}: [{p.Attributes}, {p.Snapshot}]")) + "}";
            var expected = chunk.Select(p => $$"""{"visitor_id":{{p.IdRaw}},"attributes":{{p.Attributes}},"snapshots":[{{p.Snapshot}}]}""").ToList();
            messages.Add(new LegacyMessage(body, expected));
            i += take;
        }

        return messages;
    }

    /// <summary>Escapes every non-ASCII UTF-16 unit as <c>\uXXXX</c>, as Python's <c>json.dumps</c> does by default (non-ASCII only occurs inside JSON strings).</summary>
    private static string PythonAscii(string json)
    {
        var text = new System.Text.StringBuilder(json.Length);
        foreach (char c in json)
        {
            if (c < 0x80)
            {
                text.Append(c);
            }
            else
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
        }

        return text.ToString();
    }

    private static List<string> Interleave(IEnumerable<string> a, IEnumerable<string> b)
    {
        var result = new List<string>();
        using var x = a.GetEnumerator();
        using var y = b.GetEnumerator();
        bool more = true;
        while (more)
        {
            more = false;
            if (x.MoveNext())
            {
                result.Add(x.Current);
                more = true;
            }

            if (y.MoveNext())
            {
                result.Add(y.Current);
                more = true;
            }
        }

        return result;
    }
}
