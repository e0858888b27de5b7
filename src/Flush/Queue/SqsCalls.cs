using System.Runtime.ExceptionServices;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;

namespace BulkDispatch.Flush.Queue;

/// <summary>
/// The SQS calls the flush engine makes today, in the AWS SDK's shapes and with its exceptions, each run through the
/// gateway's pipeline (so the credential refresh after an auth error applies to them). A bridge: the engine moves to
/// the gateway's own calls (batches of any size with per-item outcomes, receives with their own timeout) and this goes.
/// </summary>
internal sealed class SqsCalls(SqsGateway gateway)
{
    public SqsGateway Gateway { get; } = gateway;

    public Task<ReceiveMessageResponse> ReceiveMessageAsync(ReceiveMessageRequest request, CancellationToken cancellationToken) =>
        CallAsync("ReceiveMessage", (sqs, token) => sqs.ReceiveMessageAsync(request, token), cancellationToken);

    public Task<DeleteMessageBatchResponse> DeleteMessageBatchAsync(DeleteMessageBatchRequest request, CancellationToken cancellationToken) =>
        CallAsync("DeleteMessageBatch", (sqs, token) => sqs.DeleteMessageBatchAsync(request, token), cancellationToken);

    public Task<SendMessageBatchResponse> SendMessageBatchAsync(SendMessageBatchRequest request, CancellationToken cancellationToken) =>
        CallAsync("SendMessageBatch", (sqs, token) => sqs.SendMessageBatchAsync(request, token), cancellationToken);

    public Task<ChangeMessageVisibilityBatchResponse> ChangeMessageVisibilityBatchAsync(ChangeMessageVisibilityBatchRequest request, CancellationToken cancellationToken) =>
        CallAsync("ChangeMessageVisibilityBatch", (sqs, token) => sqs.ChangeMessageVisibilityBatchAsync(request, token), cancellationToken);

    public Task<GetQueueAttributesResponse> GetQueueAttributesAsync(GetQueueAttributesRequest request, CancellationToken cancellationToken) =>
        CallAsync("GetQueueAttributes", (sqs, token) => sqs.GetQueueAttributesAsync(request, token), cancellationToken);

    private async Task<T> CallAsync<T>(string operation, Func<Amazon.SQS.IAmazonSQS, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await Gateway.CallAsync(operation, call, SqsRetryPolicy.None, cancellationToken);
        }
        catch (SqsRequestFailedException ex) when (ex.InnerException is not null)
        {
            // The engine tells failures apart by the SDK's exceptions.
            ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
    }
}
