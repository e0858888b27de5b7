using System.Buffers;
using System.Threading.Channels;
using BulkDispatch.Core;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Packing;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>Where the sender's requests go: the Event API, or a dry run's list of what would have been sent.</summary>
internal interface IRequestSink
{
    /// <summary>Sends one merged body; the caller may reuse <paramref name="body"/> once the task has completed.</summary>
    Task<DeliveryResult> SendAsync(string url, ArraySegment<byte> body, int visitors, CancellationToken cancellationToken);
}

/// <summary>
/// Sending. Reads packed requests; sends each through its sink within <see cref="RunDeadlines.Sending"/>, with
/// <c>SendConcurrency</c> requests at once. Accepted: every visitor resolves. Rejected (400/413): the request is
/// halved until the visitors Optimizely refuses are alone, and those are written to the dead letters. Transient
/// after retries: the run gives up, and this and every later request is abandoned (its messages stay).
/// Ends when its input completes.
/// </summary>
internal sealed partial class Sender(IRequestSink sink, int concurrency, InFlightLedger ledger, RunDeadlines deadlines, RunCounters counters, ILogger log, string runId)
{
    public Task RunAsync(ChannelReader<PackedRequest<EventTracker>> input, ChannelWriter<DeadLetter> deadLetters) =>
        Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(() => LoopAsync(input, deadLetters))));

    private async Task LoopAsync(ChannelReader<PackedRequest<EventTracker>> input, ChannelWriter<DeadLetter> deadLetters)
    {
        await foreach (var request in input.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                await SendAsync(request, deadLetters);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogUnexpected(log, runId, ex);
                string what = $"unexpected error while sending: {LogText.Escape(ex.Message)}";
                counters.TransientFailure(what);
                deadlines.GiveUp(what);
                Abandon(request);
            }
        }
    }

    private async Task SendAsync(PackedRequest<EventTracker> request, ChannelWriter<DeadLetter> deadLetters)
    {
        if (deadlines.GaveUp || deadlines.Sending.IsCancellationRequested)
        {
            Abandon(request);
            return;
        }

        DeliveryResult result;
        DeadLetter? rejected = null;

        // A pooled buffer: a request body is up to MaxRequestBytes (3 MB), a large-object-heap array each time otherwise.
        byte[] rented = ArrayPool<byte>.Shared.Rent(request.Bytes);
        try
        {
            var body = new ArraySegment<byte>(rented, 0, request.Bytes);
            request.WriteBody(body);
            result = await sink.SendAsync(request.Url, body, request.Visitors.Count, deadlines.Sending);
            if (result.Status == DeliveryStatus.Rejected && request.Visitors.Count == 1)
            {
                // Optimizely refuses this visitor alone: dead-letter it as the event it came from, with only this visitor.
                var tracker = request.Visitors[0].Tag;
                rejected = new DeadLetter(
                    WireFormat.EncodeOne(tracker.Decoded, body),
                    DeadLetterReason.RejectedByOptimizely,
                    $"Optimizely answered HTTP {result.HttpStatus}: {result.Detail}",
                    tracker.Message,
                    tracker);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        switch (result.Status)
        {
            case DeliveryStatus.Accepted:
                Accept(request);
                break;

            case DeliveryStatus.Rejected when rejected is not null:
                rejected.Event!.MarkUndelivered();
                deadLetters.TryWrite(rejected);
                break;

            case DeliveryStatus.Rejected:
                // Find what Optimizely refuses by halving; everything else still goes through.
                var (first, second) = request.Split();
                await SendAsync(first, deadLetters);
                await SendAsync(second, deadLetters);
                break;

            case DeliveryStatus.Withheld:
                Abandon(request); // a dry run: nothing was sent, so nothing may be deleted
                break;

            default:
                string what = $"Event API request failed: {result.Detail}";
                counters.TransientFailure(what);
                deadlines.GiveUp(what);
                Abandon(request);
                break;
        }
    }

    private void Accept(PackedRequest<EventTracker> request)
    {
        int events = 0;
        foreach (var visitor in request.Visitors)
        {
            if (visitor.Tag.ReleaseVisitor())
            {
                events++;
            }
        }

        counters.Delivered(request.Visitors.Count, events);
        foreach (var visitor in request.Visitors)
        {
            ledger.Resolve(visitor.Tag.Message);
        }
    }

    /// <summary>The request will not be sent in this run: its messages stay in the queue.</summary>
    private void Abandon(PackedRequest<EventTracker> request)
    {
        foreach (var visitor in request.Visitors)
        {
            visitor.Tag.MarkUndelivered();
            visitor.Tag.ReleaseVisitor();
            ledger.Abandon(visitor.Tag.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: unexpected error while sending a request; its messages stay in the queue")]
    private static partial void LogUnexpected(ILogger logger, string runId, Exception ex);
}
