using System.Globalization;
using BulkDispatch.Core.Events;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Core;

public sealed class EventBatchPartsTests
{
    [Fact]
    public void TryRead_splits_every_recorded_body_into_its_raw_header_and_visitors()
    {
        foreach (var vector in TestVectors.All)
        {
            Assert.True(EventBatchParts.TryRead(BatchJson.Utf8(vector.Body), out var parts, out string? error), error);
            Assert.Null(error);

            Assert.Equal(TestVectors.VisitorsOf(vector.Body), parts!.Visitors.Select(BatchJson.Text));

            var properties = BatchJson.Properties(vector.Body);
            Assert.Equal(properties.Count - 1, parts.HeaderProperties.Count);
            Assert.Equal(BatchJson.Header(vector.Body), parts.HeaderProperties.Select(BatchJson.Property));
            Assert.Equal(parts.HeaderProperties.Sum(p => p.Length), parts.HeaderBytes);
        }
    }

    [Fact]
    public void HeaderKey_ignores_the_order_of_header_properties()
    {
        var vector = TestVectors.All[0];
        var properties = BatchJson.Properties(vector.Body);
        var header = BatchJson.Header(vector.Body);
        var visitors = properties.Single(p => p.Name == "visitors");
        string reordered = BatchJson.Body(header.Skip(3).Append(visitors).Concat(header.Take(3).Reverse()));
        Assert.NotEqual(vector.Body, reordered);

        var original = Read(vector.Body);
        var shuffled = Read(reordered);

        Assert.Equal(original.HeaderKey, shuffled.HeaderKey);
        Assert.Equal(original.HeaderBytes, shuffled.HeaderBytes);
        Assert.Equal(original.Visitors.Select(BatchJson.Text), shuffled.Visitors.Select(BatchJson.Text));
    }

    [Fact]
    public void HeaderKey_differs_when_any_header_field_differs()
    {
        var vector = TestVectors.All[0];
        var properties = BatchJson.Properties(vector.Body);
        string originalKey = Read(vector.Body).HeaderKey;
        var variants = new List<string>();
        for (int i = 0; i < properties.Count; i++)
        {
            if (properties[i].Name == "visitors")
            {
                continue;
            }

            var changed = properties.ToList();
            changed[i] = (changed[i].Name, Changed(changed[i].Value));
            variants.Add(BatchJson.Body(changed));

            var removed = properties.ToList();
            removed.RemoveAt(i);
            variants.Add(BatchJson.Body(removed));
        }

        // Fields this code does not know about count too.
        variants.Add(BatchJson.Body(properties.Prepend(("x_future_field", "{\"a\":1}"))));
        variants.Add(BatchJson.Body(properties.Append(("x_future_field", "null"))));

        Assert.Equal(2 * (properties.Count - 1) + 2, variants.Count);
        var keys = variants.Select(v => Read(v).HeaderKey).ToList();
        Assert.DoesNotContain(originalKey, keys);
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void HeaderKey_is_equal_exactly_when_the_recorded_headers_are_equal()
    {
        // Expected equality from JsonDocument: the same set of (name, raw value) pairs.
        var byExpected = TestVectors.All
            .GroupBy(v => string.Join("\n", BatchJson.Header(v.Body).Select(p => p.Name + "=" + p.Value).Order(StringComparer.Ordinal)))
            .ToList();
        Assert.True(byExpected.Count > 1, "The test vectors should hold more than one distinct header.");

        var keysPerExpected = byExpected.Select(g => g.Select(v => Read(v.Body).HeaderKey).Distinct(StringComparer.Ordinal).ToList()).ToList();
        Assert.All(keysPerExpected, keys => Assert.Single(keys));
        var keys = keysPerExpected.Select(k => k[0]).ToList();
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("\"visitors\"")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("{\"account_id\":\"1\"}")]
    [InlineData("{\"account_id\":\"1\",\"visitors\":{}}")]
    [InlineData("{\"account_id\":\"1\",\"visitors\":null}")]
    [InlineData("{\"account_id\":\"1\",\"visitors\":\"[]\"}")]
    [InlineData("{\"account_id\":\"1\",\"visitors\":[{\"visitor_id\":\"a\"},1]}")]
    [InlineData("{\"account_id\":\"1\",\"visitors\":[[]]}")]
    [InlineData("{\"account_id\":\"1\",\"visitors\":[{\"visitor_id\":\"a\"}],\"visitors\":[]}")]
    [InlineData("{\"account_id\":\"1\",\"visitors\":[{\"visitor_id\":\"a\"}]")]
    [InlineData("{\"account_id\":\"1\",\"visitors\":[{\"visitor_id\":\"a\"}}")]
    public void TryRead_refuses_a_body_that_is_not_an_event_batch_with_a_message(string body)
    {
        bool ok = EventBatchParts.TryRead(BatchJson.Utf8(body), out var parts, out string? error);

        Assert.False(ok);
        Assert.Null(parts);
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Theory]
    [InlineData("{\"\\ud800ab\":\"1\",\"visitors\":[{\"visitor_id\":\"a\"}]}")]
    [InlineData("{\"visitors\":[{\"visitor_id\":\"a\"}],\"vi\\udc00\":1}")]
    [InlineData("{\"\\ud800\\ud800\":1,\"visitors\":[]}")]
    public void TryRead_never_throws_on_an_escaped_lone_surrogate(string body)
    {
        bool ok = false;
        string? error = null;
        var thrown = Record.Exception(() => ok = EventBatchParts.TryRead(BatchJson.Utf8(body), out _, out error));

        Assert.Null(thrown);
        Assert.True(ok || !string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void TryRead_reads_slices_of_a_larger_buffer()
    {
        var vector = TestVectors.All.First(v => TestVectors.VisitorsOf(v.Body).Count() > 1);
        byte[] padded = BatchJson.Utf8("[\"before\"," + vector.Body + ",\"after\"]").ToArray();
        int start = "[\"before\",".Length;
        var body = new ReadOnlyMemory<byte>(padded, start, BatchJson.Utf8(vector.Body).Length);

        Assert.True(EventBatchParts.TryRead(body, out var parts, out string? error), error);
        Assert.Equal(TestVectors.VisitorsOf(vector.Body), parts!.Visitors.Select(BatchJson.Text));
        Assert.Equal(BatchJson.Header(vector.Body), parts.HeaderProperties.Select(BatchJson.Property));
    }

    private static EventBatchParts Read(string body)
    {
        Assert.True(EventBatchParts.TryRead(BatchJson.Utf8(body), out var parts, out string? error), error);
        return parts!;
    }

    private static string Changed(string rawValue) => rawValue switch
    {
        "true" => "false",
        "false" => "true",
        "null" => "0",
        _ when rawValue.StartsWith('"') => rawValue[..^1] + "x\"",
        _ when long.TryParse(rawValue, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) => (n + 1).ToString(CultureInfo.InvariantCulture),
        _ => "[" + rawValue + "]",
    };
}
