using System.Net;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;

namespace BulkDispatch.UnitTests.Core.Sqs;

/// <summary>
/// The AWS SQS client with its batch and receive calls answered by the test (nothing goes on the network): a way to
/// drive the gateway's chunking, outcomes and pipeline through exactly the answers SQS may give.
/// </summary>
internal sealed class ScriptedSqs() : AmazonSQSClient(new BasicAWSCredentials("unit", "unit"), new AmazonSQSConfig { ServiceURL = "http://127.0.0.1:9", AuthenticationRegion = "us-west-2" })
{
    public List<SendMessageBatchRequest> Sends { get; } = [];

    public List<DeleteMessageBatchRequest> Deletes { get; } = [];

    public int Receives;

    /// <summary>Answers the n-th (from 1) SendMessageBatch; by default every entry succeeds.</summary>
    public Func<SendMessageBatchRequest, int, SendMessageBatchResponse> OnSend { get; set; } = (request, _) => AllSucceed(request.Entries.Select(e => e.Id));

    public Func<DeleteMessageBatchRequest, int, DeleteMessageBatchResponse> OnDelete { get; set; } =
        (request, _) => new DeleteMessageBatchResponse { Successful = request.Entries.Select(e => new DeleteMessageBatchResultEntry { Id = e.Id }).ToList() };

    public Func<CancellationToken, Task<ReceiveMessageResponse>> OnReceive { get; set; } = _ => Task.FromResult(new ReceiveMessageResponse());

    public override Task<SendMessageBatchResponse> SendMessageBatchAsync(SendMessageBatchRequest request, CancellationToken cancellationToken = default)
    {
        Sends.Add(request);
        return Task.FromResult(OnSend(request, Sends.Count));
    }

    public override Task<DeleteMessageBatchResponse> DeleteMessageBatchAsync(DeleteMessageBatchRequest request, CancellationToken cancellationToken = default)
    {
        Deletes.Add(request);
        return Task.FromResult(OnDelete(request, Deletes.Count));
    }

    public override Task<ReceiveMessageResponse> ReceiveMessageAsync(ReceiveMessageRequest request, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Receives);
        return OnReceive(cancellationToken);
    }

    public static SendMessageBatchResponse AllSucceed(IEnumerable<string> ids) =>
        new() { Successful = ids.Select(id => new SendMessageBatchResultEntry { Id = id, MessageId = "m-" + id }).ToList() };

    /// <summary>An error as the AWS SDK throws it for an SQS answer.</summary>
    public static AmazonSQSException Error(string code, HttpStatusCode status = HttpStatusCode.BadRequest, ErrorType type = ErrorType.Sender) =>
        new($"SQS says {code}", type, code, "request-1", status);
}

/// <summary>Refreshable credentials that count what the gateway asks of them.</summary>
internal sealed class CountingCredentials : IRefreshableCredentials
{
    public long Generation { get; set; } = 1;

    public string Describe => "the test's credentials";

    public List<long> Invalidated { get; } = [];

    public void Invalidate(long generation)
    {
        Invalidated.Add(generation);
        Generation++;
    }
}
