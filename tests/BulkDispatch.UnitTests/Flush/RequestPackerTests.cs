using System.Text;
using System.Text.Json;
using BulkDispatch.Core.Events;
using BulkDispatch.Flush.Packing;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Flush;

public sealed class RequestPackerTests
{
    private const string Us = "https://logx.optimizely.com/v1/events";
    private const string Eu = "https://eu.logx.optimizely.com/v1/events";

    private static EventBatchParts Parts(string body)
    {
        Assert.True(EventBatchParts.TryRead(Encoding.UTF8.GetBytes(body), out var parts, out var error), error);
        return parts!;
    }

    /// <summary>Packs every vector's visitors; returns the requests in close order.</summary>
    private static List<PackedRequest<int>> PackAll(int maxBytes, out List<(string Url, string Header, string Visitor, int Tag)> input)
    {
        var packer = new RequestPacker<int>(maxBytes);
        var closed = new List<PackedRequest<int>>();
        input = [];
        int tag = 0;
        foreach (var v in TestVectors.All)
        {
            var parts = Parts(v.Body);
            foreach (var visitor in parts.Visitors)
            {
                input.Add((v.Url, parts.HeaderKey, Encoding.UTF8.GetString(visitor.Span), tag));
                if (packer.Fits(parts, visitor.Length))
                {
                    packer.Add(v.Url, parts, new PackedVisitor<int>(visitor, tag), 0, closed);
                }

                tag++;
            }
        }

        packer.CloseAll(closed);
        Assert.Equal(0, packer.OpenRequests);
        Assert.Equal(0, packer.OpenBytes);
        return closed;
    }

    [Theory]
    [InlineData(3_000_000)]
    [InlineData(50_000)]
    [InlineData(4_000)]
    public void Every_visitor_lands_in_exactly_one_request_under_the_cap_with_its_own_url_and_header(int maxBytes)
    {
        var requests = PackAll(maxBytes, out var input);
        var packedTags = requests.SelectMany(r => r.Visitors.Select(v => v.Tag)).ToList();
        var fitting = input.Where(i => Encoding.UTF8.GetByteCount(i.Visitor) + 400 < maxBytes).Select(i => i.Tag).ToHashSet();

        Assert.Equal(packedTags.Count, packedTags.Distinct().Count());
        Assert.Superset(fitting, packedTags.ToHashSet());
        foreach (var request in requests)
        {
            byte[] body = request.BuildBody();
            Assert.Equal(request.Bytes, body.Length);
            Assert.True(body.Length <= maxBytes, $"{body.Length} > {maxBytes}");
            using var doc = JsonDocument.Parse(body);
            var visitors = doc.RootElement.GetProperty("visitors").EnumerateArray().Select(e => e.GetRawText()).ToList();
            var expected = request.Visitors.Select(v => input[v.Tag]).ToList();
            Assert.Equal(expected.Select(e => e.Visitor), visitors);
            Assert.Single(expected.Select(e => (e.Url, e.Header)).Distinct());
            Assert.Equal(expected[0].Url, request.Url);
        }
    }

    [Fact]
    public void Groups_with_identical_bodies_but_different_urls_are_never_merged()
    {
        string body = TestVectors.All[0].Body;
        var parts = Parts(body);
        var packer = new RequestPacker<string>(3_000_000);
        var closed = new List<PackedRequest<string>>();
        packer.Add(Us, parts, new PackedVisitor<string>(parts.Visitors[0], "us"), 0, closed);
        packer.Add(Eu, parts, new PackedVisitor<string>(parts.Visitors[0], "eu"), 0, closed);
        packer.CloseAll(closed);
        Assert.Equal(2, closed.Count);
        Assert.Equal(["us", "eu"], closed.OrderBy(r => r.Url == Eu).Select(r => r.Visitors.Single().Tag));
    }

    [Fact]
    public void A_header_field_the_packer_does_not_know_splits_the_group()
    {
        var a = Parts("{\"account_id\":\"1\",\"visitors\":[{\"visitor_id\":\"a\",\"snapshots\":[]}]}");
        var b = Parts("{\"account_id\":\"1\",\"new_field\":2,\"visitors\":[{\"visitor_id\":\"b\",\"snapshots\":[]}]}");
        var c = Parts("{\"visitors\":[{\"visitor_id\":\"c\",\"snapshots\":[]}],\"account_id\":\"1\"}");
        var packer = new RequestPacker<string>(3_000_000);
        var closed = new List<PackedRequest<string>>();
        packer.Add(Us, a, new PackedVisitor<string>(a.Visitors[0], "a"), 0, closed);
        packer.Add(Us, b, new PackedVisitor<string>(b.Visitors[0], "b"), 0, closed);
        packer.Add(Us, c, new PackedVisitor<string>(c.Visitors[0], "c"), 0, closed);
        packer.CloseAll(closed);
        Assert.Equal(["a,c", "b"], closed.Select(r => string.Join(",", r.Visitors.Select(v => v.Tag))).Order());
    }

    [Fact]
    public void Only_requests_older_than_the_linger_limit_are_closed()
    {
        var a = Parts(TestVectors.All[0].Body);
        var packer = new RequestPacker<int>(3_000_000);
        var closed = new List<PackedRequest<int>>();
        packer.Add(Us, a, new PackedVisitor<int>(a.Visitors[0], 1), now: 100, closed);
        packer.Add(Eu, a, new PackedVisitor<int>(a.Visitors[0], 2), now: 200, closed);
        packer.CloseOlderThan(150, closed);
        Assert.Equal(1, closed.Single().Visitors.Single().Tag);
        Assert.Equal(1, packer.OpenRequests);
    }

    [Fact]
    public void Split_halves_keep_header_and_order()
    {
        var requests = PackAll(3_000_000, out var input);
        var big = requests.MaxBy(r => r.Visitors.Count)!;
        var (first, second) = big.Split();
        Assert.Equal(big.Visitors.Select(v => v.Tag), first.Visitors.Concat(second.Visitors).Select(v => v.Tag));
        Assert.True(Math.Abs(first.Visitors.Count - second.Visitors.Count) <= 1);
        Assert.Equal(big.BuildBody().Length, first.Bytes + second.Bytes - EventBatchWriter.EmptyBodyBytes(big.HeaderBytes, big.Header.Count) + 1);
        Assert.Equal(input[first.Visitors[0].Tag].Url, second.Url);
    }

    [Fact]
    public void A_request_and_its_halves_keep_their_header_when_the_first_events_buffer_is_reused()
    {
        // The first event's bytes live in a pooled message buffer that goes back to the pool (and is
        // overwritten) once that message is resolved, possibly before the rest of its request is sent.
        byte[] pooled = Encoding.UTF8.GetBytes("""{"account_id":"12","project_id":"34","visitors":[{"visitor_id":"a"},{"visitor_id":"b"}]}""");
        Assert.True(EventBatchParts.TryRead(pooled, out var parts, out var error), error);
        var packer = new RequestPacker<int>(10_000);
        var closed = new List<PackedRequest<int>>();
        var other = Encoding.UTF8.GetBytes("""{"visitor_id":"c"}""");
        packer.Add(Us, parts!, new PackedVisitor<int>(parts!.Visitors[0], 0), 0, closed);
        packer.Add(Us, parts, new PackedVisitor<int>(other, 1), 0, closed);
        packer.CloseOlderThan(long.MaxValue, closed);
        var request = Assert.Single(closed);
        var (_, second) = request.Split();

        // After a 400, the first half ("a") was accepted and its message released: its buffer is reused.
        Array.Fill(pooled, (byte)'g');

        using var half = JsonDocument.Parse(second.BuildBody());
        Assert.Equal("12", half.RootElement.GetProperty("account_id").GetString());
        Assert.Equal("c", half.RootElement.GetProperty("visitors")[0].GetProperty("visitor_id").GetString());
    }
}
