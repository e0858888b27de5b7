using System.Diagnostics.Metrics;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer;
using BulkDispatch.Producer.Buffering;
using BulkDispatch.Producer.Diagnostics;
using BulkDispatch.Producer.Sending;
using BulkDispatch.UnitTests.Core.Sqs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Producer;

/// <summary>The packer (encoding and fitting events into messages) and the sender (settling every event of a batch).</summary>
public sealed class SendingTests : IDisposable
{
    private const string Url = "https://logx.optimizely.com/v1/events";
    private const string QueueUrl = "http://127.0.0.1:9/000000000000/unit";
    private static readonly DateTimeOffset At = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(At);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly BufferAccounting _buffer;
    private readonly ProducerMetrics _metrics;
    private readonly EventOutcomes _outcomes;
    // The sender's tests build version-1 messages by hand, so SQS's script can see the events in the bodies.
    private readonly MessagePacker _plainPacker = new(new QueueLimits(QueueUrl, 262_144), wireFormatVersion: 1);

    public SendingTests()
    {
        _buffer = new BufferAccounting(1_000, 1 << 30, _time);
        _metrics = new ProducerMetrics(_services.GetRequiredService<IMeterFactory>(), () => _buffer.Events);
        var warnings = new ProducerWarnings(NullLogger.Instance, new ProducerOptions(), _time);
        _outcomes = new EventOutcomes(_buffer, _metrics, warnings);
        Warnings = warnings;
    }

    private ProducerWarnings Warnings { get; }

    public void Dispose()
    {
        _metrics.Dispose();
        _services.Dispose();
        _plainPacker.Dispose();
    }

    [Fact]
    public void The_packer_refuses_a_body_that_is_not_JSON_and_an_event_larger_than_a_message_and_keeps_packing()
    {
        using var packer = new MessagePacker(new QueueLimits(QueueUrl, 2048));

        var invalid = packer.Add(Pending("{\"visitors\": [ not json"));
        var large = packer.Add(Pending(Body(3000)));
        var fits = packer.Add(Pending(Body(200)));

        Assert.Equal((RefusalKind.InvalidJson, (OutgoingBatch?)null), (invalid.Refusal, invalid.Full));
        Assert.False(string.IsNullOrEmpty(invalid.Error));
        Assert.Equal(RefusalKind.TooLarge, large.Refusal);
        Assert.True(large.EncodedBytes > 3000, "the refusal names the encoded size");
        Assert.Equal(default, fits);
        Assert.Equal(1, Assert.IsType<OutgoingBatch>(packer.Take()).Events);
        Assert.Null(packer.Take());
    }

    [Fact]
    public void When_the_batch_is_full_the_packer_hands_it_over_and_the_event_starts_the_next()
    {
        using var packer = new MessagePacker(new QueueLimits(QueueUrl, 1024), wireFormatVersion: 1); // one event per message, ten per batch
        var results = Enumerable.Range(0, 11).Select(_ => packer.Add(Pending(Body(600)))).ToList();

        Assert.All(results.Take(10), r => Assert.Equal(default, r));
        var full = Assert.IsType<OutgoingBatch>(results[10].Full);
        Assert.Equal((10, 10), (full.Events, full.Messages.Count));
        Assert.Equal(1, packer.Take()!.Events);
        var body = packer.Compose(full.Messages)[0].Body;
        Assert.Equal(Body(600), System.Text.Encoding.UTF8.GetString(Assert.Single(MessageDecoder.Decode(body, legacy: null).Events).Body.Span));
    }

    [Fact]
    public async Task A_message_SQS_rejects_as_invalid_is_halved_until_only_the_bad_event_is_refused()
    {
        var sqs = new ScriptedSqs
        {
            // SQS finds a message holding the bad event invalid, whatever else it holds.
            OnSend = (request, _) => new SendMessageBatchResponse
            {
                Successful = [.. request.Entries.Where(e => !e.MessageBody.Contains("bad", StringComparison.Ordinal)).Select(e => new SendMessageBatchResultEntry { Id = e.Id, MessageId = "m" + e.Id })],
                Failed = [.. request.Entries.Where(e => e.MessageBody.Contains("bad", StringComparison.Ordinal))
                    .Select(e => new BatchResultErrorEntry { Id = e.Id, SenderFault = true, Code = "InvalidParameterValue", Message = "Invalid characters" })],
            },
        };
        var message = new OutgoingMessage();
        using var encoder = new EventEncoder();
        foreach (string body in new[] { Body(100), Body(110), "{\"bad\":1}", Body(120) })
        {
            Assert.True(_buffer.TryReserve(body.Length));
            message.Add(encoder.Encode(new QueuedEvent(Url, "POST", new Dictionary<string, string>(), body, At)), body.Length);
        }

        await Sender(sqs).SendAsync([message], CancellationToken.None);

        Assert.Equal([1, 2, 2], sqs.Sends.Select(s => s.Entries.Count).ToArray()); // 4 events; then 2 + 2; then 1 + 1
        Assert.Equal((4L, 3L, 0L, 1L, 3L, 0L), Counts(_metrics.Snapshot(_buffer.Events)));
        Assert.Equal((0L, 0L), (_buffer.Events, _buffer.Bytes));
    }

    [Fact]
    public async Task A_message_the_gateway_gives_up_on_is_dropped_and_released()
    {
        var sqs = new ScriptedSqs { OnSend = (_, _) => throw ScriptedSqs.Error("ServiceUnavailable", System.Net.HttpStatusCode.ServiceUnavailable, Amazon.Runtime.ErrorType.Receiver) };
        var message = new OutgoingMessage();
        using var encoder = new EventEncoder();
        Assert.True(_buffer.TryReserve(100));
        message.Add(encoder.Encode(new QueuedEvent(Url, "POST", new Dictionary<string, string>(), Body(100), At)), 100);

        await Sender(sqs).SendAsync([message], CancellationToken.None); // SqsRetryPolicy.None: as when the dispose deadline ends the retries

        var stats = _metrics.Snapshot(_buffer.Events);
        Assert.Equal((0L, 1L, 0L, 0L), (stats.Sent, stats.Dropped, stats.Refused, stats.Buffered));
    }

    private BatchSender Sender(ScriptedSqs sqs) =>
        new(_plainPacker, new SqsGateway(sqs, new SqsGatewayOptions { TimeProvider = _time }), QueueUrl, SqsRetryPolicy.None, _outcomes, _metrics, Warnings);

    /// <summary>(held before: sent + refused + dropped + buffered, sent, dropped, refused, requests, buffered)</summary>
    private static (long Held, long Sent, long Dropped, long Refused, long Requests, long Buffered) Counts(ProducerStatistics s) =>
        (s.Sent + s.Refused + s.Dropped + s.Buffered, s.Sent, s.Dropped, s.Refused, s.SendRequests, s.Buffered);

    private static PendingEvent Pending(string body) =>
        PendingEvent.For(new QueuedEvent(Url, "POST", new Dictionary<string, string>(), body, At), body.Length);

    /// <summary>A valid JSON body of exactly <paramref name="bytes"/> ASCII bytes.</summary>
    private static string Body(int bytes) => "{\"v\":\"" + new string('x', bytes - 8) + "\"}";
}
