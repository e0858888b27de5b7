using System.Collections.Concurrent;
using System.Text;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;

namespace BulkDispatch.Cli;

/// <summary>SQS requests of one kind a process made, and the 64 KiB chunks SQS bills for them.</summary>
internal sealed record SqsRequestCount(long Requests, long BilledUnits);

/// <summary>
/// Counts the SQS requests a client makes, by operation, and the billed request units: SQS bills every
/// 64 KiB chunk of a request's payload (message bodies and attributes sent, or received) as one request.
/// Shows what a run costs; <c>flush --json</c> prints it.
/// </summary>
internal sealed class SqsRequestCounter
{
    private const int BilledChunk = 64 * 1024;
    private readonly ConcurrentDictionary<string, (long Requests, long Units)> _counts = new(StringComparer.Ordinal);

    /// <summary>Starts counting the requests of <paramref name="sqs"/>; a client that is not the AWS SDK's own counts nothing.</summary>
    public static SqsRequestCounter Attach(IAmazonSQS sqs)
    {
        var counter = new SqsRequestCounter();
        if (sqs is AmazonServiceClient client)
        {
            client.BeforeRequestEvent += counter.OnRequest;
            client.AfterResponseEvent += counter.OnResponse;
        }

        return counter;
    }

    /// <summary>The counts so far, by operation name (e.g. <c>ReceiveMessage</c>).</summary>
    public SortedDictionary<string, SqsRequestCount> Snapshot() =>
        new(_counts.ToDictionary(p => p.Key, p => new SqsRequestCount(p.Value.Requests, p.Value.Units)), StringComparer.Ordinal);

    private void OnRequest(object sender, RequestEventArgs e)
    {
        if (e is not WebServiceRequestEventArgs { Request: { } request })
        {
            return;
        }

        string operation = request.GetType().Name.Replace("Request", "", StringComparison.Ordinal);
        long payload = request switch
        {
            SendMessageBatchRequest batch => batch.Entries?.Sum(m => Payload(m.MessageBody, m.MessageAttributes)) ?? 0,
            SendMessageRequest one => Payload(one.MessageBody, one.MessageAttributes),
            _ => 0,
        };

        // A receive is billed by what comes back: its chunks are added when the answer arrives.
        long units = request is ReceiveMessageRequest ? 0 : Units(payload);
        _counts.AddOrUpdate(operation, (1, units), (_, c) => (c.Requests + 1, c.Units + units));
    }

    private void OnResponse(object sender, ResponseEventArgs e)
    {
        if (e is WebServiceResponseEventArgs { Response: ReceiveMessageResponse received })
        {
            long units = Units(received.Messages?.Sum(m => Payload(m.Body, m.MessageAttributes)) ?? 0);
            _counts.AddOrUpdate("ReceiveMessage", (0, units), (_, c) => (c.Requests, c.Units + units));
        }
    }

    private static long Units(long payloadBytes) => Math.Max(1, (payloadBytes + BilledChunk - 1) / BilledChunk);

    private static long Payload(string? body, Dictionary<string, MessageAttributeValue>? attributes)
    {
        long bytes = Encoding.UTF8.GetByteCount(body ?? "");
        foreach (var (name, value) in attributes ?? [])
        {
            bytes += Encoding.UTF8.GetByteCount(name) + Encoding.UTF8.GetByteCount(value.DataType ?? "") + Encoding.UTF8.GetByteCount(value.StringValue ?? "");
        }

        return bytes;
    }
}
