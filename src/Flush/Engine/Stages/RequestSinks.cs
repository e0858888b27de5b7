using System.Collections.Concurrent;
using System.Text.Json;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Reporting;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>A real run: requests go to the Event API through its resilience pipeline, and are counted.</summary>
internal sealed class EventApiSink(OptimizelyClient client, RunCounters counters) : IRequestSink
{
    public async Task<DeliveryResult> SendAsync(string url, ArraySegment<byte> body, int visitors, CancellationToken cancellationToken)
    {
        counters.RequestSent(body.Count);
        var result = await client.PostAsync(url, body, cancellationToken);
        counters.RequestAnswered(result.Status);
        return result;
    }
}

/// <summary>A dry run: each request is checked (does the merged body parse, with every visitor?) and listed, and nothing is sent.</summary>
internal sealed class DryRunRequestSink : IRequestSink
{
    private readonly ConcurrentQueue<PlannedRequest> _planned = new();

    /// <summary>What would have been sent, in the order the senders got to it.</summary>
    public IReadOnlyList<PlannedRequest> Planned => [.. _planned];

    public Task<DeliveryResult> SendAsync(string url, ArraySegment<byte> body, int visitors, CancellationToken cancellationToken)
    {
        string account = "";
        bool valid;
        try
        {
            using var doc = JsonDocument.Parse(body);
            valid = doc.RootElement.TryGetProperty("visitors", out var v) && v.GetArrayLength() == visitors;
            account = doc.RootElement.TryGetProperty("account_id", out var a) ? a.ToString() : "";
        }
        catch (JsonException)
        {
            valid = false;
        }

        _planned.Enqueue(new PlannedRequest(url, account, visitors, body.Count, valid));
        return Task.FromResult(new DeliveryResult(DeliveryStatus.Withheld, 0, "dry run"));
    }
}
