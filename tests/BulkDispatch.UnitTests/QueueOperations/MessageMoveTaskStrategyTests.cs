using System.Net;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.QueueOperations.Redrive;
using BulkDispatch.QueueOperations.Statistics;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.QueueOperations;

/// <summary>
/// How the message-move strategy follows SQS's task: through a client whose move-task calls the test answers (no
/// emulator has them) and a fake clock, so a minute of polling every 2 s takes no time.
/// </summary>
public sealed class MessageMoveTaskStrategyTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly WaitingClock _clock;
    private readonly MoveTaskEndpoint _sqs = new();
    private readonly List<string> _notes = [];

    public MessageMoveTaskStrategyTests() => _clock = new WaitingClock(_time);

    [Fact]
    public async Task A_task_that_never_shows_up_is_given_up_after_a_minute_and_reported_as_stopped()
    {
        var started = _time.GetUtcNow();
        DateTimeOffset? gaveUp = null;
        var job = Job() with { Note = n => { _notes.Add(n); gaveUp ??= n.Contains("does not appear", StringComparison.Ordinal) ? _time.GetUtcNow() : null; } };

        var result = await RunWithClockAsync(job, CancellationToken.None);

        Assert.NotNull(gaveUp);
        Assert.InRange(gaveUp.Value - started, MoveTaskWatch.AppearTimeout, MoveTaskWatch.AppearTimeout + TimeSpan.FromSeconds(4));
        Assert.Equal((RedriveMethod.MessageMoveTask, true, 0L), (result.Method, result.Cancelled, result.Moved));
        Assert.Contains("task-1", _notes[^1], StringComparison.Ordinal); // the handle, to look it up in SQS
        Assert.Equal(0, _sqs.Cancels);
    }

    [Fact]
    public async Task A_stop_cancels_the_task_and_reports_what_it_had_moved()
    {
        _sqs.Tasks = [new ListMessageMoveTasksResultEntry { TaskHandle = "task-1", Status = "RUNNING", StartedTimestamp = 5, ApproximateNumberOfMessagesMoved = 12, ApproximateNumberOfMessagesToMove = 50 }];
        using var stop = new CancellationTokenSource();
        var progress = new List<RedriveProgress>();
        var job = Job() with { Progress = p => { progress.Add(p); stop.Cancel(); } };

        var result = await RunWithClockAsync(job, stop.Token);

        Assert.Equal(1, _sqs.Cancels);
        Assert.True(result.Cancelled);
        Assert.Equal(12, result.Moved);
        Assert.Equal(new RedriveProgress(RedriveMethod.MessageMoveTask, 12, 0, 0, 50), progress[0]);
        Assert.Contains(_notes, n => n.StartsWith("Stopping: cancelling the message-move task", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_task_reports_what_it_did_not_move_as_failed()
    {
        _sqs.Tasks = [new ListMessageMoveTasksResultEntry { TaskHandle = "task-1", Status = "FAILED", FailureReason = "AccessDenied", StartedTimestamp = 5, ApproximateNumberOfMessagesMoved = 30, ApproximateNumberOfMessagesToMove = 50 }];

        var result = await RunWithClockAsync(Job(), CancellationToken.None);

        Assert.Equal((30L, 20L, false), (result.Moved, result.Failed, result.Complete));
        Assert.Contains("AccessDenied", Assert.Single(result.Failures).Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_endpoint_without_the_operation_makes_the_strategy_unavailable_with_the_reason()
    {
        _sqs.StartError = new AmazonSQSException("Unknown action", ErrorType.Sender, "InvalidAction", "r-1", HttpStatusCode.BadRequest);

        var attempt = await new MessageMoveTaskStrategy().RunAsync(Job(), CancellationToken.None);

        Assert.Null(attempt.Result);
        Assert.Equal("the endpoint does not support StartMessageMoveTask (InvalidAction)", attempt.Unavailable);
        Assert.Empty(_notes);
    }

    [Fact]
    public async Task A_refusal_is_not_taken_for_a_missing_operation()
    {
        _sqs.StartError = new AmazonSQSException("not allowed", ErrorType.Sender, "AccessDenied", "r-1", HttpStatusCode.Forbidden);

        var error = await Assert.ThrowsAsync<SqsRequestFailedException>(() => new MessageMoveTaskStrategy().RunAsync(Job(), CancellationToken.None));

        Assert.Equal(("StartMessageMoveTask", "AccessDenied"), (error.Operation, error.ErrorCode));
    }

    public void Dispose()
    {
        _sqs.Dispose();
        _clock.Dispose();
    }

    private RedriveJob Job() => new()
    {
        Sqs = new SqsGateway(_sqs, new SqsGatewayOptions { TimeProvider = _time }),
        QueueUrl = "http://sqs.test/000000000000/events",
        DeadLetterQueueUrl = "http://sqs.test/000000000000/events-dlq",
        DeadLetterQueue = new QueueStatistics { Name = "events-dlq", Url = "http://sqs.test/000000000000/events-dlq" },
        Selection = new RedriveSelection([], null),
        Time = _clock,
        Started = _clock.GetTimestamp(),
        Note = _notes.Add,
    };

    /// <summary>
    /// Runs the strategy, moving the fake clock on by the poll interval (2 s) each time the strategy waits on it, until
    /// it returns. Moving it on a fixed number of times instead raced the strategy: on a busy machine the steps ran out
    /// before a slow continuation came back to wait.
    /// </summary>
    private async Task<RedriveResult> RunWithClockAsync(RedriveJob job, CancellationToken cancellationToken)
    {
        var run = new MessageMoveTaskStrategy().RunAsync(job, cancellationToken);
        for (int poll = 0; poll < 1_000; poll++)
        {
            var waiting = _clock.TimerCreatedAsync();
            if (await Task.WhenAny(run, waiting) == run)
            {
                return (await run).Result!;
            }

            Assert.True(await waiting, "the strategy neither returned nor waited on the clock");
            _time.Advance(TimeSpan.FromSeconds(2));
        }

        Assert.Fail("the strategy kept polling");
        return null!;
    }

    /// <summary>The SQS client with the move-task calls and queue ARNs answered by the test.</summary>
    private sealed class MoveTaskEndpoint() : AmazonSQSClient(new BasicAWSCredentials("unit", "unit"), new AmazonSQSConfig { ServiceURL = "http://127.0.0.1:9", AuthenticationRegion = "us-west-2" })
    {
        public List<ListMessageMoveTasksResultEntry> Tasks { get; set; } = [];

        public AmazonSQSException? StartError { get; set; }

        public int Cancels { get; private set; }

        public override Task<GetQueueAttributesResponse> GetQueueAttributesAsync(GetQueueAttributesRequest request, CancellationToken cancellationToken = default) =>
            Task.FromResult(new GetQueueAttributesResponse
            {
                Attributes = new Dictionary<string, string> { ["QueueArn"] = "arn:aws:sqs:us-west-2:000000000000:" + request.QueueUrl[(request.QueueUrl.LastIndexOf('/') + 1)..] },
            });

        public override Task<StartMessageMoveTaskResponse> StartMessageMoveTaskAsync(StartMessageMoveTaskRequest request, CancellationToken cancellationToken = default) =>
            StartError is { } error ? Task.FromException<StartMessageMoveTaskResponse>(error) : Task.FromResult(new StartMessageMoveTaskResponse { TaskHandle = "task-1" });

        public override Task<ListMessageMoveTasksResponse> ListMessageMoveTasksAsync(ListMessageMoveTasksRequest request, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ListMessageMoveTasksResponse { Results = [.. Tasks] });

        public override Task<CancelMessageMoveTaskResponse> CancelMessageMoveTaskAsync(CancelMessageMoveTaskRequest request, CancellationToken cancellationToken = default)
        {
            Cancels++;
            return Task.FromResult(new CancelMessageMoveTaskResponse());
        }
    }
}
