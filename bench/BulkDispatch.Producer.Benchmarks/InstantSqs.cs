using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;

namespace BulkDispatch.Producer.Benchmarks;

/// <summary>
/// An SQS client that accepts every SendMessageBatch at once without I/O or request marshalling, so a
/// publisher on it shows what its own code (buffer, encoding, packing, composing) can push through.
/// </summary>
internal sealed class InstantSqs() : AmazonSQSClient(new BasicAWSCredentials("bench", "bench"), new AmazonSQSConfig { ServiceURL = Workload.UnreachableServiceUrl, AuthenticationRegion = "us-west-2" })
{
    public long Bytes;

    /// <summary>SendMessageBatch requests, and the 64 KiB chunks SQS would bill for them (each request's bodies, rounded up).</summary>
    public long Requests, Chunks;

    public override Task<SendMessageBatchResponse> SendMessageBatchAsync(SendMessageBatchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        long bytes = request.Entries.Sum(e => (long)System.Text.Encoding.UTF8.GetByteCount(e.MessageBody));
        Interlocked.Add(ref Bytes, bytes);
        Interlocked.Increment(ref Requests);
        Interlocked.Add(ref Chunks, Math.Max(1, (bytes + 65535) / 65536));
        return Task.FromResult(new SendMessageBatchResponse
        {
            Successful = [.. request.Entries.Select(e => new SendMessageBatchResultEntry { Id = e.Id, MessageId = e.Id })],
            Failed = [],
        });
    }
}
