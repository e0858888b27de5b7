using System.Text.Json;
using BulkDispatch.Core.Events;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Core;

/// <summary>Legacy messages of the Python reference producer, <c>{"visitor_id": [attributes, snapshot]}</c>, read through <see cref="MessageDecoder"/>.</summary>
public sealed class LegacyDecoderTests
{
    private static readonly LegacyHeader Header = new(
        "https://eu.logx.optimizely.com/v1/events", "4879520872", "11624721371", "python-sdk", "5.0.1", AnonymizeIp: true, EnrichDecisions: true);

    /// <summary>The raw texts a legacy producer would have written for one recorded visitor.</summary>
    private sealed record LegacyVisitor(string IdJson, string AttributesJson, string SnapshotJson)
    {
        public string Entry => IdJson + ":[" + AttributesJson + "," + SnapshotJson + "]";
    }

    public static TheoryData<string> VisitorIdKinds => new() { "non-ascii", "escaped-quote", "emoji", "plain" };

    [Theory]
    [MemberData(nameof(VisitorIdKinds))]
    public void Decode_maps_a_legacy_message_to_one_event_with_the_visitor_unchanged(string kind)
    {
        var visitor = RecordedVisitors().First(v => kind switch
        {
            "non-ascii" => v.IdJson.Any(c => c > 0x7F && !char.IsSurrogate(c)),
            "escaped-quote" => v.IdJson.Contains("\\\"", StringComparison.Ordinal),
            "emoji" => v.IdJson.Any(char.IsSurrogate),
            _ => v.IdJson.All(c => c < 0x7F && c != '\\'),
        });
        string message = "{" + visitor.Entry + "}";

        var result = MessageDecoder.Decode(message, Header);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.True(result.IsLegacy);
        var e = Assert.Single(result.Events);
        Assert.Equal(Header.Url, e.Url);
        Assert.Equal("POST", e.HttpVerb);
        Assert.Equal("application/json", e.Headers["Content-Type"]);
        AssertBody(e.Body, [visitor]);
    }

    [Fact]
    public void Decode_maps_several_legacy_keys_to_several_visitors_in_order()
    {
        var visitors = RecordedVisitors().DistinctBy(v => v.IdJson).Take(5).ToList();
        Assert.Equal(5, visitors.Count);
        string message = "{" + string.Join(",", visitors.Select(v => v.Entry)) + "}";

        var result = MessageDecoder.Decode(message, Header);

        Assert.True(result.Succeeded, result.FailureDetail);
        var e = Assert.Single(result.Events);
        AssertBody(e.Body, visitors);
    }

    [Fact]
    public void Decode_keeps_the_python_producers_escapes_and_spacing()
    {
        // json.dumps with its defaults: ", " and ": " separators, non-ASCII as \u escapes.
        var visitor = new LegacyVisitor(
            "\"zo\\u00eb \\\"q\\\" \\ud83d\\ude42\"",
            "[{\"entity_id\": \"7723340004\", \"key\": \"location\", \"type\": \"custom\", \"value\": \"Z\\u00fcrich\"}, {\"entity_id\": \"808797686\", \"key\": \"double_key\", \"type\": \"custom\", \"value\": 2.0}]",
            "{\"decisions\": [{\"campaign_id\": \"7719770039\", \"experiment_id\": \"7716830082\", \"variation_id\": \"7721010009\"}], \"events\": [{\"entity_id\": \"7719770039\", \"timestamp\": 1795368068000, \"uuid\": \"0d4f1d1c-7c44-4c5e-9a3e-3f3b0e1f7a11\", \"key\": \"campaign_activated\"}]}");
        string message = "{" + visitor.IdJson + ": [" + visitor.AttributesJson + ", " + visitor.SnapshotJson + "]}";

        var result = MessageDecoder.Decode(message, Header);

        Assert.True(result.Succeeded, result.FailureDetail);
        AssertBody(Assert.Single(result.Events).Body, [visitor]);
    }

    [Theory]
    [InlineData("version")]
    [InlineData("events")]
    [InlineData("format")]
    public void Decode_reads_a_legacy_visitor_whose_id_is_a_wire_format_field_name(string visitorId)
    {
        var visitor = RecordedVisitors().First() with { IdJson = "\"" + visitorId + "\"" };
        var other = RecordedVisitors().Skip(1).First();
        string message = "{" + visitor.Entry + "," + other.Entry + "}";

        var result = MessageDecoder.Decode(message, Header);

        Assert.True(result.Succeeded, result.FailureDetail);
        AssertBody(Assert.Single(result.Events).Body, [visitor, other]);
    }

    [Fact]
    public void Decode_refuses_a_legacy_message_without_legacy_settings()
    {
        const string missing = "BulkDispatch__Legacy__AccountId and BulkDispatch__Legacy__ProjectId are";
        string message = "{" + RecordedVisitors().First().Entry + "}";

        var result = MessageDecoder.Decode(message, legacy: null, missing);

        Assert.False(result.Succeeded);
        Assert.True(result.IsLegacy);
        Assert.Equal(DeadLetterReason.LegacySettingsMissing, result.FailureReason);
        Assert.Contains(missing, result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(result.Events);
    }

    private static void AssertBody(ReadOnlyMemory<byte> body, IReadOnlyList<LegacyVisitor> expected)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        Assert.Equal(Header.AccountId, root.GetProperty("account_id").GetString());
        Assert.Equal(Header.ProjectId, root.GetProperty("project_id").GetString());
        Assert.Equal(Header.ClientName, root.GetProperty("client_name").GetString());
        Assert.Equal(Header.ClientVersion, root.GetProperty("client_version").GetString());
        Assert.Equal(Header.AnonymizeIp, root.GetProperty("anonymize_ip").GetBoolean());
        Assert.Equal(Header.EnrichDecisions, root.GetProperty("enrich_decisions").GetBoolean());

        var visitors = root.GetProperty("visitors");
        Assert.Equal(expected.Count, visitors.GetArrayLength());
        for (int i = 0; i < expected.Count; i++)
        {
            var visitor = visitors[i];
            Assert.Equal(expected[i].IdJson, visitor.GetProperty("visitor_id").GetRawText());
            Assert.Equal(expected[i].AttributesJson, visitor.GetProperty("attributes").GetRawText());
            var snapshot = Assert.Single(visitor.GetProperty("snapshots").EnumerateArray());
            Assert.Equal(expected[i].SnapshotJson, snapshot.GetRawText());
        }

        // The flush must be able to split and merge the body like any SDK body.
        Assert.True(EventBatchParts.TryRead(body, out var parts, out string? error), error);
        Assert.Equal(expected.Count, parts!.Visitors.Count);
    }

    private static IEnumerable<LegacyVisitor> RecordedVisitors()
    {
        foreach (var vector in TestVectors.All)
        {
            foreach (string raw in TestVectors.VisitorsOf(vector.Body))
            {
                using var document = JsonDocument.Parse(raw);
                var visitor = document.RootElement;
                yield return new LegacyVisitor(
                    visitor.GetProperty("visitor_id").GetRawText(),
                    visitor.GetProperty("attributes").GetRawText(),
                    visitor.GetProperty("snapshots")[0].GetRawText());
            }
        }
    }
}
