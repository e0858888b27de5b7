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

    public override Task<SendMessageBatchResponse> SendMessageBatchAsync(SendMessageBatchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Interlocked.Add(ref Bytes, request.Entries.Sum(e => (long)e.MessageBody.Length));
        return Task.FromResult(new SendMessageBatchResponse
        {
            Successful = [.. request.Entries.Select(e => new SendMessageBatchResultEntry { Id = e.Id, MessageId = e.Id })],
            Failed = [],
        });
    }
}
