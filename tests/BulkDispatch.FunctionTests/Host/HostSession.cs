using System.Globalization;
using System.Threading.Channels;
using BulkDispatch.FunctionTests.Protocol;
using Google.Protobuf.WellKnownTypes;

namespace BulkDispatch.FunctionTests.Host;

/// <summary>
/// One worker's conversation with the stand-in host, in the host's terms: init, indexing, load, invocations, cancel,
/// terminate. Answers are matched by request id (invocations by invocation id); every <c>RpcLog</c> is kept.
/// </summary>
internal sealed class HostSession
{
    /// <summary>How long the stand-in waits for an answer that a healthy worker gives at once.</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(30);

    private readonly Channel<StreamingMessage> _outgoing = Channel.CreateUnbounded<StreamingMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private readonly List<StreamingMessage> _answers = [];
    private readonly List<RpcLog> _logs = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _disconnected;
    private int _nextRequest;

    public HostSession(string workerId)
    {
        WorkerId = workerId;
    }

    /// <summary>The id the worker gave in its <c>StartStream</c>.</summary>
    public string WorkerId { get; }

    internal ChannelReader<StreamingMessage> Outgoing => _outgoing.Reader;

    /// <summary>Every log line the worker has sent so far.</summary>
    public IReadOnlyList<RpcLog> Logs
    {
        get
        {
            lock (_gate)
            {
                return [.. _logs];
            }
        }
    }

    /// <summary>The log lines the worker sent for one invocation.</summary>
    public IReadOnlyList<RpcLog> LogsOf(string invocationId) => [.. Logs.Where(l => l.InvocationId == invocationId)];

    public async Task<WorkerInitResponse> InitAsync(string appDirectory)
    {
        var request = new WorkerInitRequest { HostVersion = "4.1037.0", WorkerDirectory = appDirectory, FunctionAppDirectory = appDirectory };
        var answer = await AskAsync(new StreamingMessage { WorkerInitRequest = request }, m => m.WorkerInitResponse is not null);
        return answer.WorkerInitResponse;
    }

    public async Task<FunctionMetadataResponse> GetFunctionMetadataAsync(string appDirectory)
    {
        var request = new FunctionsMetadataRequest { FunctionAppDirectory = appDirectory };
        var answer = await AskAsync(new StreamingMessage { FunctionsMetadataRequest = request }, m => m.FunctionMetadataResponse is not null);
        return answer.FunctionMetadataResponse;
    }

    /// <summary>Loads a function as the host does after worker indexing: the metadata the worker gave, sent back with its id.</summary>
    public async Task<FunctionLoadResponse> LoadAsync(RpcFunctionMetadata metadata, string appDirectory)
    {
        var loaded = metadata.Clone();
        loaded.Directory = appDirectory;
        var request = new FunctionLoadRequest { FunctionId = metadata.FunctionId, Metadata = loaded };
        var answer = await AskAsync(new StreamingMessage { FunctionLoadRequest = request }, m => m.FunctionLoadResponse is not null);
        return answer.FunctionLoadResponse;
    }

    /// <summary>
    /// Starts a timer invocation as the host sends one: the trigger's <c>TimerInfo</c> serialized to JSON (as the host's
    /// Newtonsoft serializer writes it) in the binding named <paramref name="bindingName"/>. Returns the invocation id.
    /// </summary>
    public async Task<string> StartTimerInvocationAsync(string functionId, string bindingName, bool isPastDue, DateTime lastUtc, DateTime nextUtc)
    {
        string invocationId = Guid.NewGuid().ToString();
        string timerJson = string.Create(CultureInfo.InvariantCulture,
            $"{{\"Schedule\":{{\"AdjustForDST\":true}},\"ScheduleStatus\":{{\"Last\":\"{lastUtc:yyyy-MM-ddTHH:mm:ss}Z\",\"Next\":\"{nextUtc:yyyy-MM-ddTHH:mm:ss}Z\",\"LastUpdated\":\"{lastUtc:yyyy-MM-ddTHH:mm:ss}Z\"}},\"IsPastDue\":{(isPastDue ? "true" : "false")}}}");
        var request = new InvocationRequest
        {
            InvocationId = invocationId,
            FunctionId = functionId,
            TraceContext = new RpcTraceContext { TraceParent = $"00-{Guid.NewGuid():N}-{Guid.NewGuid().ToString("N")[..16]}-01" },
        };
        request.InputData.Add(new ParameterBinding { Name = bindingName, Data = new TypedData { Json = timerJson } });
        await SendAsync(new StreamingMessage { RequestId = NextRequestId(), InvocationRequest = request });
        return invocationId;
    }

    public async Task<InvocationResponse> WaitForInvocationAsync(string invocationId, TimeSpan timeout)
    {
        var answer = await WaitForAsync(m => m.InvocationResponse?.InvocationId == invocationId, timeout);
        return answer.InvocationResponse;
    }

    public Task CancelAsync(string invocationId) =>
        SendAsync(new StreamingMessage { RequestId = NextRequestId(), InvocationCancel = new InvocationCancel { InvocationId = invocationId } });

    /// <summary>Asks the worker whether it is alive and answering (the host's periodic status request).</summary>
    public async Task<WorkerStatusResponse> StatusAsync()
    {
        var answer = await AskAsync(new StreamingMessage { WorkerStatusRequest = new WorkerStatusRequest() }, m => m.WorkerStatusResponse is not null);
        return answer.WorkerStatusResponse;
    }

    /// <summary>Tells the worker to stop (no answer is expected: it exits).</summary>
    public Task TerminateAsync(TimeSpan gracePeriod) =>
        SendAsync(new StreamingMessage { RequestId = NextRequestId(), WorkerTerminate = new WorkerTerminate { GracePeriod = Duration.FromTimeSpan(gracePeriod) } });

    internal void Received(StreamingMessage message)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (message.RpcLog is { } log)
            {
                _logs.Add(log);
            }
            else
            {
                _answers.Add(message);
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    internal void Disconnected()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _disconnected = true;
            changed = _changed;
        }

        _outgoing.Writer.TryComplete();
        changed.TrySetResult();
    }

    private async Task<StreamingMessage> AskAsync(StreamingMessage request, Func<StreamingMessage, bool> isAnswer)
    {
        string requestId = NextRequestId();
        request.RequestId = requestId;
        await SendAsync(request);
        return await WaitForAsync(m => m.RequestId == requestId && isAnswer(m), AnswerTimeout);
    }

    private async Task SendAsync(StreamingMessage message) => await _outgoing.Writer.WriteAsync(message);

    private async Task<StreamingMessage> WaitForAsync(Func<StreamingMessage, bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_answers.FirstOrDefault(match) is { } found)
                {
                    return found;
                }

                if (_disconnected)
                {
                    throw new InvalidOperationException("The worker closed its stream before answering.");
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The worker gave no such answer within {timeout}.");
            }
        }
    }

    private string NextRequestId() => "host-" + Interlocked.Increment(ref _nextRequest).ToString(CultureInfo.InvariantCulture);
}
