using System.Globalization;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Amazon.SQS;
using Amazon.SQS.Model;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>An SQS client that forwards to the emulator and implements StartMessageMoveTask/ListMessageMoveTasks itself.</summary>
public class MoveTaskSqs : DispatchProxy
{
    private IAmazonSQS _real = null!;
    private long? _moved;
    private long _startedAt;

    public List<string> Calls { get; } = [];

    public static (IAmazonSQS Proxy, MoveTaskSqs Fake) Wrap(IAmazonSQS real)
    {
        var proxy = Create<IAmazonSQS, MoveTaskSqs>();
        var fake = (MoveTaskSqs)(object)proxy;
        fake._real = real;
        return (proxy, fake);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        lock (Calls)
        {
            Calls.Add(targetMethod.Name);
        }

        switch (args?.FirstOrDefault())
        {
            case StartMessageMoveTaskRequest start:
                return StartAsync(start);
            case ListMessageMoveTasksRequest:
                return Task.FromResult(new ListMessageMoveTasksResponse
                {
                    Results = _moved is { } n
                        ? [new ListMessageMoveTasksResultEntry { Status = "COMPLETED", ApproximateNumberOfMessagesMoved = n, ApproximateNumberOfMessagesToMove = n, StartedTimestamp = _startedAt }]
                        : [],
                });
            default:
                try
                {
                    return targetMethod.Invoke(_real, args);
                }
                catch (TargetInvocationException ex) when (ex.InnerException is not null)
                {
                    ExceptionDispatchInfo.Throw(ex.InnerException);
                    throw;
                }
        }
    }

    /// <summary>Moves everything from the source to the destination, attributes included, as SQS's task does.</summary>
    private async Task<StartMessageMoveTaskResponse> StartAsync(StartMessageMoveTaskRequest request)
    {
        string source = (await _real.GetQueueUrlAsync(request.SourceArn.Split(':')[5])).QueueUrl;
        string destination = (await _real.GetQueueUrlAsync(request.DestinationArn.Split(':')[5])).QueueUrl;
        long moved = 0;
        while ((await _real.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = source, MaxNumberOfMessages = 10, WaitTimeSeconds = 1, MessageAttributeNames = ["All"] })).Messages is { Count: > 0 } messages)
        {
            await _real.SendMessageBatchAsync(new SendMessageBatchRequest
            {
                QueueUrl = destination,
                Entries = messages.Select((m, i) => new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.Body) { MessageAttributes = m.MessageAttributes }).ToList(),
            });
            await _real.DeleteMessageBatchAsync(new DeleteMessageBatchRequest
            {
                QueueUrl = source,
                Entries = messages.Select((m, i) => new DeleteMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.ReceiptHandle)).ToList(),
            });
            moved += messages.Count;
        }

        _startedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _moved = moved;
        return new StartMessageMoveTaskResponse { TaskHandle = "task-1" };
    }
}
