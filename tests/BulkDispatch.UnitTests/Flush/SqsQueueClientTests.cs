using System.Net;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Engine;
using BulkDispatch.UnitTests.Core.Sqs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush;

/// <summary>
/// The engine's receive through the real gateway against scripted SQS answers, on a fake clock: one retry policy
/// (three attempts) and one timeout per attempt, and what the receiver sees when they are spent.
/// </summary>
public sealed class SqsQueueClientTests
{
    private const string Queue = "http://127.0.0.1:9/000000000000/q";
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Three_failed_receives_in_a_row_fail_the_receive_as_transient()
    {
        using var sqs = new ScriptedSqs { OnReceive = _ => throw new HttpRequestException("connection refused") };

        var error = await Assert.ThrowsAsync<QueueCallException>(() => Client(sqs).ReceiveAsync(10, 2, () => { }, CancellationToken.None));

        Assert.Equal(3, sqs.Receives);
        Assert.False(error.Fatal);
        Assert.Contains("connection refused", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_failed_receives_and_then_an_answer_bring_the_messages()
    {
        int calls = 0;
        using var sqs = new ScriptedSqs
        {
            OnReceive = _ => Interlocked.Increment(ref calls) <= 2
                ? throw new HttpRequestException("connection refused")
                : Task.FromResult(new ReceiveMessageResponse { Messages = [new Message { MessageId = "m1", ReceiptHandle = "h1", Body = "body" }] }),
        };

        var messages = await Client(sqs).ReceiveAsync(10, 2, () => { }, CancellationToken.None);

        Assert.Equal(3, sqs.Receives);
        Assert.Equal(new ReceivedMessage("m1", "h1", "body"), Assert.Single(messages));
    }

    [Fact]
    public async Task A_fatal_refusal_is_not_retried()
    {
        using var sqs = new ScriptedSqs { OnReceive = _ => throw ScriptedSqs.Error("AccessDenied", HttpStatusCode.Forbidden) };

        var error = await Assert.ThrowsAsync<QueueCallException>(() => Client(sqs).ReceiveAsync(10, 2, () => { }, CancellationToken.None));

        Assert.Equal(1, sqs.Receives);
        Assert.True(error.Fatal);
        Assert.Equal("AccessDenied", error.Kind);
    }

    [Fact]
    public async Task A_receive_that_hangs_is_abandoned_after_its_wait_and_margin_and_three_in_a_row_fail()
    {
        using var sqs = new ScriptedSqs { OnReceive = async token => { await Task.Delay(Timeout.Infinite, token); return new ReceiveMessageResponse(); } };
        int abandoned = 0;
        var receive = Client(sqs).ReceiveAsync(10, 2, () => Interlocked.Increment(ref abandoned), CancellationToken.None);

        for (int attempt = 1; attempt <= 3; attempt++)
        {
            await UntilAsync(() => Volatile.Read(ref sqs.Receives) == attempt);
            _time.Advance(TimeSpan.FromSeconds(2) + Margin - TimeSpan.FromMilliseconds(1));
            await Task.Yield();
            Assert.Equal(attempt, Volatile.Read(ref sqs.Receives)); // not yet given up on
            _time.Advance(TimeSpan.FromMilliseconds(1));
        }

        var error = await Assert.ThrowsAsync<QueueCallException>(() => receive.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(error.Fatal);
        Assert.Equal("SQS ReceiveMessage did not answer within 12 s.", error.Message);
        Assert.Equal(3, Volatile.Read(ref abandoned)); // each may have leased messages
    }

    [Fact]
    public async Task Only_attempts_given_up_in_flight_are_reported_abandoned_not_those_SQS_answered_with_an_error()
    {
        int calls = 0;
        using var sqs = new ScriptedSqs
        {
            OnReceive = _ => Interlocked.Increment(ref calls) == 1
                ? throw ScriptedSqs.Error("ServiceUnavailable", HttpStatusCode.ServiceUnavailable, Amazon.Runtime.ErrorType.Receiver)
                : Task.FromResult(new ReceiveMessageResponse()),
        };
        int abandoned = 0;

        var messages = await Client(sqs).ReceiveAsync(10, 2, () => Interlocked.Increment(ref abandoned), CancellationToken.None);

        Assert.Empty(messages);
        Assert.Equal(2, sqs.Receives);
        Assert.Equal(0, abandoned);
    }

    [Fact]
    public async Task A_receive_cancelled_in_flight_is_reported_abandoned()
    {
        using var sqs = new ScriptedSqs { OnReceive = async token => { await Task.Delay(Timeout.Infinite, token); return new ReceiveMessageResponse(); } };
        using var stop = new CancellationTokenSource();
        int abandoned = 0;
        var receive = Client(sqs).ReceiveAsync(10, 2, () => Interlocked.Increment(ref abandoned), stop.Token);
        await UntilAsync(() => Volatile.Read(ref sqs.Receives) == 1);

        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receive.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, Volatile.Read(ref abandoned));
    }

    private SqsQueueClient Client(ScriptedSqs sqs) =>
        new(new SqsGateway(sqs, new SqsGatewayOptions { TimeProvider = _time }), Queue, Margin, SqsQueueClient.ReceiveRetry(NullLogger.Instance));

    private static async Task UntilAsync(Func<bool> done)
    {
        for (int i = 0; i < 1000 && !done(); i++)
        {
            await Task.Delay(5);
        }

        Assert.True(done(), "the condition did not hold in time");
    }
}
