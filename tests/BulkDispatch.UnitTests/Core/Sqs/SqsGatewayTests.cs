using System.Net;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Core.Sqs;

/// <summary>The gateway's pipeline and batches against scripted SQS answers, on a fake clock.</summary>
public sealed class SqsGatewayTests
{
    private const string Queue = "http://127.0.0.1:9/000000000000/q";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private SqsGateway Gateway(ScriptedSqs sqs, IRefreshableCredentials? credentials = null) =>
        new(sqs, new SqsGatewayOptions { TimeProvider = _time, Credentials = credentials });

    private static List<SqsOutgoingMessage> Messages(int count, int bytes = 10) =>
        Enumerable.Range(0, count).Select(i => new SqsOutgoingMessage(i.ToString("D" + bytes, System.Globalization.CultureInfo.InvariantCulture))).ToList();

    [Fact]
    public async Task An_auth_error_drops_the_credentials_it_was_signed_with_and_retries_once()
    {
        using var sqs = new ScriptedSqs();
        var credentials = new CountingCredentials { Generation = 7 };
        int calls = 0;

        var answer = await Gateway(sqs, credentials).CallAsync("ListQueues", (_, _) =>
            ++calls == 1 ? throw ScriptedSqs.Error("InvalidClientTokenId", HttpStatusCode.Forbidden) : Task.FromResult("second attempt"));

        Assert.Equal("second attempt", answer);
        Assert.Equal(2, calls);
        Assert.Equal([7L], credentials.Invalidated);
    }

    [Fact]
    public async Task A_second_auth_error_is_fatal_and_reads_the_credentials_only_once()
    {
        using var sqs = new ScriptedSqs();
        var credentials = new CountingCredentials();
        int calls = 0;

        var error = await Assert.ThrowsAsync<SqsRequestFailedException>(() => Gateway(sqs, credentials).CallAsync<string>(
            "ListQueues", (_, _) => { calls++; throw ScriptedSqs.Error("ExpiredToken", HttpStatusCode.Forbidden); }, SqsRetryPolicy.Attempts(3)));

        Assert.Equal((SqsFailureKind.Fatal, "ExpiredToken", "ListQueues"), (error.Kind, error.ErrorCode, error.Operation));
        Assert.Equal(2, calls); // fatal: the policy's own retries do not apply
        Assert.Single(credentials.Invalidated);
    }

    [Fact]
    public async Task Without_refreshable_credentials_an_auth_error_fails_at_once()
    {
        using var sqs = new ScriptedSqs();
        int calls = 0;

        var error = await Assert.ThrowsAsync<SqsRequestFailedException>(() => Gateway(sqs).CallAsync<string>(
            "ListQueues", (_, _) => { calls++; throw ScriptedSqs.Error("InvalidClientTokenId", HttpStatusCode.Forbidden); }));

        Assert.Equal(SqsFailureKind.Fatal, error.Kind);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Transient_failures_are_retried_as_the_policy_says_then_thrown_as_transient()
    {
        using var sqs = new ScriptedSqs();
        int calls = 0;

        var error = await Assert.ThrowsAsync<SqsRequestFailedException>(() => Gateway(sqs).CallAsync<string>(
            "GetQueueAttributes", (_, _) => { calls++; throw new HttpRequestException("connection refused"); }, SqsRetryPolicy.Attempts(3)));

        Assert.Equal(3, calls);
        Assert.True(error.IsTransient);
        Assert.IsType<HttpRequestException>(error.InnerException);
        Assert.Contains("SQS GetQueueAttributes failed (HttpRequestException): connection refused", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_that_is_no_sqs_failure_passes_unchanged_and_is_not_retried()
    {
        using var sqs = new ScriptedSqs();
        int calls = 0;

        await Assert.ThrowsAsync<InvalidOperationException>(() => Gateway(sqs).CallAsync<string>(
            "ListQueues", (_, _) => { calls++; throw new InvalidOperationException("a configuration error a credential source threw"); }, SqsRetryPolicy.Attempts(3)));

        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Until_cancelled_backs_off_on_the_given_clock_and_retries_fatal_errors_too()
    {
        using var sqs = new ScriptedSqs();
        int calls = 0;
        var retries = new List<SqsRetryEvent>();
        var policy = SqsRetryPolicy.UntilCancelled(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4), retries.Add);

        var call = Gateway(sqs).CallAsync("GetQueueUrl", (_, _) => Interlocked.Increment(ref calls) switch
        {
            1 => throw ScriptedSqs.Error("AccessDenied", HttpStatusCode.Forbidden),
            2 => throw ScriptedSqs.Error("ServiceUnavailable", HttpStatusCode.ServiceUnavailable, Amazon.Runtime.ErrorType.Receiver),
            _ => Task.FromResult("url"),
        }, policy);

        Assert.Equal(1, Volatile.Read(ref calls));
        Assert.False(call.IsCompleted); // waiting on the fake clock, not on real time
        await AdvanceUntilAsync(() => Volatile.Read(ref calls) == 2);
        Assert.False(call.IsCompleted);
        await AdvanceUntilAsync(() => call.IsCompleted);

        Assert.Equal("url", await call);
        Assert.Equal(3, calls);
        Assert.Equal([0, 1], retries.Select(r => r.Attempt));
        Assert.All(retries, r => Assert.InRange(r.Delay, TimeSpan.Zero, TimeSpan.FromSeconds(4)));
        Assert.Equal("AccessDenied", (retries[0].Exception as Amazon.SQS.AmazonSQSException)?.ErrorCode);
    }

    [Fact]
    public async Task Cancelling_a_call_that_retries_forever_ends_it_with_the_callers_cancellation()
    {
        using var sqs = new ScriptedSqs();
        using var stop = new CancellationTokenSource();
        var call = Gateway(sqs).CallAsync<string>("SendMessageBatch", (_, _) => throw new HttpRequestException("down"),
            SqsRetryPolicy.UntilCancelled(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)), stop.Token);

        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task A_receive_that_hangs_is_abandoned_after_its_wait_and_margin()
    {
        using var sqs = new ScriptedSqs { OnReceive = async token => { await Task.Delay(Timeout.Infinite, token); return new ReceiveMessageResponse(); } };
        var receive = Gateway(sqs).ReceiveAsync(new SqsReceiveRequest(Queue) { WaitTime = TimeSpan.FromSeconds(2), TimeoutMargin = TimeSpan.FromSeconds(10) });

        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.False(receive.IsCompleted);
        await AdvanceUntilAsync(() => receive.IsCompleted);

        var error = await Assert.ThrowsAsync<SqsRequestFailedException>(() => receive);
        Assert.True(error.IsTransient);
        Assert.Equal("SQS ReceiveMessage did not answer within 12 s.", error.Message);
    }

    [Fact]
    public async Task An_empty_receive_is_an_empty_list()
    {
        using var sqs = new ScriptedSqs();

        Assert.Empty(await Gateway(sqs).ReceiveAsync(new SqsReceiveRequest(Queue)));
    }

    [Fact]
    public async Task A_batch_of_any_size_goes_out_in_chunks_of_ten_with_an_outcome_per_message()
    {
        using var sqs = new ScriptedSqs();

        var result = await Gateway(sqs).SendBatchAsync(Queue, Messages(25));

        Assert.Equal([10, 10, 5], sqs.Sends.Select(s => s.Entries.Count));
        Assert.Equal(25, result.Outcomes.Count);
        Assert.True(result.AllSucceeded);
        Assert.Equal(3, result.Requests);
        Assert.Equal(Messages(25).Select(m => m.Body), sqs.Sends.SelectMany(s => s.Entries).Select(e => e.MessageBody));
    }

    [Fact]
    public async Task Entries_sqs_failed_transiently_are_sent_again_and_those_at_fault_are_not()
    {
        using var sqs = new ScriptedSqs
        {
            OnSend = (request, call) => call == 1
                ? new SendMessageBatchResponse
                {
                    Successful = request.Entries.Where(e => e.Id is not ("3" or "4")).Select(e => new SendMessageBatchResultEntry { Id = e.Id }).ToList(),
                    Failed =
                    [
                        new BatchResultErrorEntry { Id = "3", Code = "InternalError", SenderFault = false, Message = "try again" },
                        new BatchResultErrorEntry { Id = "4", Code = "InvalidMessageContents", SenderFault = true, Message = "bad characters" },
                    ],
                }
                : ScriptedSqs.AllSucceed(request.Entries.Select(e => e.Id)),
        };

        var result = await Gateway(sqs).SendBatchAsync(Queue, Messages(12), retry: SqsRetryPolicy.Attempts(2));

        Assert.Equal([10, 1, 2], sqs.Sends.Select(s => s.Entries.Count)); // the retry carries only the transient entry
        Assert.Equal("3".PadLeft(10, '0'), sqs.Sends[1].Entries.Single().MessageBody);
        Assert.Equal(11, result.Succeeded);
        Assert.Equal(new SqsItemOutcome(false, SqsFailureKind.SenderFault, "InvalidMessageContents", "bad characters"), result.Outcomes[4]);
        Assert.Equal(3, result.Requests);
    }

    [Fact]
    public async Task Without_retries_a_transient_entry_failure_is_reported_transient()
    {
        using var sqs = new ScriptedSqs
        {
            OnSend = (request, _) => new SendMessageBatchResponse { Failed = [new BatchResultErrorEntry { Id = "0", Code = "ServiceUnavailable", SenderFault = false }] },
        };

        var result = await Gateway(sqs).SendBatchAsync(Queue, Messages(1));

        Assert.Equal(SqsFailureKind.Transient, result.Outcomes[0].Failure);
        Assert.Single(sqs.Sends);
    }

    [Fact]
    public async Task A_fatal_error_fails_every_item_and_sends_no_further_chunk()
    {
        using var sqs = new ScriptedSqs { OnSend = (_, _) => throw ScriptedSqs.Error("AccessDenied", HttpStatusCode.Forbidden) };

        var result = await Gateway(sqs).SendBatchAsync(Queue, Messages(30), retry: SqsRetryPolicy.Attempts(3));

        Assert.Single(sqs.Sends);
        Assert.All(result.Outcomes, o => Assert.Equal((false, SqsFailureKind.Fatal, "AccessDenied"), (o.Succeeded, o.Failure, o.Code)));
    }

    [Fact]
    public async Task Chunks_respect_the_batch_byte_limit_and_a_too_long_batch_is_halved()
    {
        using var sqs = new ScriptedSqs
        {
            // As a queue whose batch limit is smaller than SQS's 1 MiB: more than 300 KB in one request is refused whole.
            OnSend = (request, _) => request.Entries.Sum(e => e.MessageBody.Length) > 300_000
                ? throw ScriptedSqs.Error("AWS.SimpleQueueService.BatchRequestTooLong")
                : ScriptedSqs.AllSucceed(request.Entries.Select(e => e.Id)),
        };

        var result = await Gateway(sqs).SendBatchAsync(Queue, Messages(6, bytes: 200_000));

        Assert.True(result.AllSucceeded);
        Assert.All(sqs.Sends, s => Assert.True(s.Entries.Sum(e => e.MessageBody.Length) <= SqsLimits.MaxBatchBytes));
        Assert.Equal(6, sqs.Sends.Where(s => s.Entries.Sum(e => e.MessageBody.Length) <= 300_000).Sum(s => s.Entries.Count));
    }

    [Fact]
    public async Task A_message_over_the_queues_limit_is_refused_without_a_request()
    {
        using var sqs = new ScriptedSqs();
        var messages = new List<SqsOutgoingMessage> { new("small"), new(new string('x', 300_000)), new("also small") };

        var result = await Gateway(sqs).SendBatchAsync(Queue, messages, maxMessageBytes: 256 * 1024);

        Assert.Equal(["small", "also small"], sqs.Sends.Single().Entries.Select(e => e.MessageBody));
        Assert.Equal((SqsFailureKind.SenderFault, "MessageTooLong"), (result.Outcomes[1].Failure, result.Outcomes[1].Code));
        Assert.True(result.Outcomes[0].Succeeded && result.Outcomes[2].Succeeded);
    }

    [Fact]
    public async Task Message_attributes_travel_with_the_body_and_count_toward_its_size()
    {
        using var sqs = new ScriptedSqs();
        var attributes = new Dictionary<string, MessageAttributeValue> { ["BulkDispatch.Reason"] = new() { DataType = "String", StringValue = "undecodable" } };
        var message = new SqsOutgoingMessage("body", attributes);

        await Gateway(sqs).SendBatchAsync(Queue, [message]);

        Assert.Equal("undecodable", sqs.Sends.Single().Entries.Single().MessageAttributes["BulkDispatch.Reason"].StringValue);
        Assert.Equal(4 + "BulkDispatch.Reason".Length + "String".Length + "undecodable".Length, message.Bytes);
    }

    [Fact]
    public async Task Deletes_go_out_in_tens_and_a_cancelled_call_reports_the_rest_cancelled()
    {
        using var sqs = new ScriptedSqs();
        using var stop = new CancellationTokenSource();
        sqs.OnDelete = (request, call) =>
        {
            stop.Cancel(); // the caller stops while the first chunk is on its way
            return new DeleteMessageBatchResponse { Successful = request.Entries.Select(e => new DeleteMessageBatchResultEntry { Id = e.Id }).ToList() };
        };
        var handles = Enumerable.Range(0, 15).Select(i => "receipt-" + i).ToList();

        var result = await Gateway(sqs).DeleteBatchAsync(Queue, handles, cancellationToken: stop.Token);

        Assert.Equal(handles.Take(10), sqs.Deletes.Single().Entries.Select(e => e.ReceiptHandle));
        Assert.Equal(10, result.Succeeded);
        Assert.All(result.Outcomes.Skip(10), o => Assert.Equal("Cancelled", o.Code));
    }

    /// <summary>Moves the fake clock a second at a time until <paramref name="done"/> (the gateway's timers run on it).</summary>
    private async Task AdvanceUntilAsync(Func<bool> done)
    {
        for (int i = 0; i < 600 && !done(); i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
            for (int spin = 0; spin < 200 && !done(); spin++)
            {
                await Task.Yield();
            }
        }

        Assert.True(done(), "the condition did not hold while the fake clock advanced");
    }
}
