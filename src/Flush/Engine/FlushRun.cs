using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Events;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Packing;
using BulkDispatch.Flush.Queue;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// One flush, top to bottom: receive (parallel long polls, bounded by a byte budget) → decode →
/// group and pack → send (with the resilience pipeline) → delete what was accepted; permanent
/// failures go to the dead-letter queue first. Stages are connected by channels and every stage
/// ends by itself once the one before it has ended.
/// </summary>
internal sealed partial class FlushRun : IDisposable
{
    private readonly SqsCalls _sqs;
    private readonly OptimizelyClient _client;
    private readonly FlushOptions _options;
    private readonly IReadOnlyList<Uri> _allowed;
    private readonly ConcurrentDictionary<string, bool> _allowedByUrl = new(StringComparer.Ordinal);
    private readonly LegacyHeader? _legacy;
    private readonly string _legacyMissing;
    private readonly QueueInfo _queue;
    private readonly TimeProvider _time;
    private readonly FlushMetrics _metrics;
    private readonly ILogger _log;
    private readonly bool _dryRun;
    private readonly string _runId;

    private readonly ByteBudget _budget;
    private readonly ConcurrentDictionary<string, InFlightMessage> _inFlight = new(StringComparer.Ordinal);
    private readonly Channel<InFlightMessage> _received = Channel.CreateBounded<InFlightMessage>(new BoundedChannelOptions(100) { SingleReader = true });
    private readonly Channel<PackedRequest<VisitorTag>> _requests = Channel.CreateUnbounded<PackedRequest<VisitorTag>>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly Channel<DeadLetter> _deadLetters = Channel.CreateUnbounded<DeadLetter>();
    private readonly Channel<InFlightMessage> _deletes = Channel.CreateUnbounded<InFlightMessage>();
    private readonly ConcurrentDictionary<string, long> _deadLettered = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<PlannedRequest> _planned = new();
    private readonly List<Message> _dryRunReceived = [];

    private readonly CancellationToken _callerToken;
    private readonly CancellationTokenSource _receiveDeadline;
    private readonly CancellationTokenSource _stopReceiving;
    private readonly CancellationTokenSource _hardStop;
    private readonly CancellationTokenSource _finalStop;

    private const long MaxDeadLetterBatchBytes = 256 * 1024;

    private long _messagesReceived, _messagesDeleted, _eventsReceived, _eventsDelivered, _visitorsDelivered;
    private long _requestsSent, _requestsAccepted, _bytesSent, _transientFailures;
    private long _receiveSlots;
    private int _emptyLoops, _deferredLoops;
    private volatile bool _transient;
    private volatile bool _messageLimitReached;
    private string? _lastFailure;
    private bool _dlqMissingLogged;

    public FlushRun(
        SqsCalls sqs,
        OptimizelyClient client,
        FlushOptions options,
        OptimizelyOptions optimizely,
        LegacyOptions legacy,
        QueueInfo queue,
        TimeProvider time,
        FlushMetrics metrics,
        ILogger log,
        bool dryRun,
        string runId,
        TimeSpan maxDuration,
        CancellationToken callerToken)
    {
        _sqs = sqs;
        _client = client;
        _options = options;
        _allowed = optimizely.AllowedEndpointUris();
        _legacy = legacy.ToHeader();
        _legacyMissing = legacy.MissingSettings();
        _queue = queue;
        _time = time;
        _metrics = metrics;
        _log = log;
        _dryRun = dryRun;
        _runId = runId;
        _budget = new ByteBudget(options.MaxBufferedBytes);

        // The run keeps its own clock: the host's token is not reliably signalled on timeout.
        _receiveDeadline = new CancellationTokenSource(maxDuration, time);
        _stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(callerToken, _receiveDeadline.Token);
        _hardStop = new CancellationTokenSource(maxDuration + options.SendGrace, time);
        _finalStop = new CancellationTokenSource(maxDuration + options.SendGrace + TimeSpan.FromSeconds(15), time);
        _callerToken = callerToken;
    }

    /// <summary>Marks where a visitor came from, so its outcome can be put down to its message and event.</summary>
    internal readonly record struct VisitorTag(InFlightMessage Message, EventTracker Event);

    /// <summary>Something to put on the dead-letter queue, and what to do once it is there (or not).</summary>
    private sealed record DeadLetter(string Body, string Reason, string Detail, InFlightMessage Owner, EventTracker? Event);

    public async Task<FlushReport> RunAsync(DateTimeOffset startedAt, long startTimestamp)
    {
        using var leaseStop = new CancellationTokenSource();
        var leases = Task.Run(() => KeepLeasesAsync(leaseStop.Token));
        var progress = Task.Run(() => ReportProgressAsync(startTimestamp, leaseStop.Token));
        var receivers = Enumerable.Range(0, _options.ReceiveConcurrency).Select(_ => Task.Run(ReceiveLoopAsync)).ToArray();
        var assembler = Task.Run(AssembleAsync);
        var senders = Enumerable.Range(0, _options.SendConcurrency).Select(_ => Task.Run(SendLoopAsync)).ToArray();
        var deadLetterer = Task.Run(DeadLetterLoopAsync);
        var deleters = Enumerable.Range(0, 2).Select(_ => Task.Run(DeleteLoopAsync)).ToArray();

        await Task.WhenAll(receivers);
        _received.Writer.TryComplete();
        await assembler;
        await Task.WhenAll(senders);
        _deadLetters.Writer.TryComplete();
        await deadLetterer;
        _deletes.Writer.TryComplete();
        await Task.WhenAll(deleters);
        await leaseStop.CancelAsync();
        await leases;
        await progress;

        if (_dryRun)
        {
            await ReleaseDryRunMessagesAsync();
        }

        long? left = await ApproximateDepthAsync();
        var stopReason = _transient ? FlushStopReason.TransientFailure
            : _messageLimitReached ? FlushStopReason.MessageLimit
            : _emptyLoops > 0 && _emptyLoops + _deferredLoops == _options.ReceiveConcurrency ? FlushStopReason.QueueEmpty
            : _callerToken.IsCancellationRequested ? FlushStopReason.Cancelled
            : FlushStopReason.MaxDuration;
        long received = Interlocked.Read(ref _messagesReceived);
        long deleted = Interlocked.Read(ref _messagesDeleted);
        var report = new FlushReport
        {
            RunId = _runId,
            StartedAt = startedAt,
            Duration = _time.GetElapsedTime(startTimestamp),
            Complete = !_transient && (_dryRun || deleted == received) && Interlocked.Read(ref _transientFailures) == 0,
            StopReason = stopReason,
            DryRun = _dryRun,
            MessagesReceived = received,
            MessagesDeleted = deleted,
            EventsReceived = Interlocked.Read(ref _eventsReceived),
            EventsDelivered = Interlocked.Read(ref _eventsDelivered),
            VisitorsDelivered = Interlocked.Read(ref _visitorsDelivered),
            RequestsSent = Interlocked.Read(ref _requestsSent),
            RequestsAccepted = Interlocked.Read(ref _requestsAccepted),
            BytesSent = Interlocked.Read(ref _bytesSent),
            DeadLettered = new SortedDictionary<string, long>(_deadLettered, StringComparer.Ordinal),
            TransientFailures = Interlocked.Read(ref _transientFailures),
            LastFailure = _lastFailure,
            ApproximateMessagesLeft = left,
            PlannedRequests = [.. _planned],
        };

        return report;
    }

    public void Dispose()
    {
        _stopReceiving.Dispose();
        _receiveDeadline.Dispose();
        _hardStop.Dispose();
        _finalStop.Dispose();
    }

    /// <summary>Called about twice a second with the run's counts so far (for a progress line).</summary>
    public Action<FlushProgress>? Progress { get; init; }

    private async Task ReportProgressAsync(long startTimestamp, CancellationToken stop)
    {
        if (Progress is null)
        {
            return;
        }

        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Progress(new FlushProgress(
                _time.GetElapsedTime(startTimestamp),
                Interlocked.Read(ref _messagesReceived),
                Interlocked.Read(ref _messagesDeleted),
                Interlocked.Read(ref _visitorsDelivered),
                Interlocked.Read(ref _requestsSent),
                _deadLettered.Values.Sum(),
                _budget.Used));
        }
    }

    // ---- receive -------------------------------------------------------------------------------

    private async Task ReceiveLoopAsync()
    {
        var stop = _stopReceiving.Token;
        int consecutiveErrors = 0;
        int wait = (int)Math.Ceiling(_options.ReceiveWaitTime.TotalSeconds);
        while (!stop.IsCancellationRequested && !_transient)
        {
            try
            {
                await _budget.WaitForRoomAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // Reserve memory for the worst case (every message at the queue's MaximumMessageSize) before asking,
            // so parallel receives cannot bring in more than MaxBufferedBytes between them; what the messages
            // really weigh replaces the reservation once they are here.
            int units = _budget.Reserve(_queue.MaxMessageBytes, 10);
            long reserved = (long)units * _queue.MaxMessageBytes;
            int want = units;
            if (_options.MaxMessagesPerRun > 0)
            {
                // Reserve before asking, so parallel loops never ask for more than the limit between them.
                want = TakeReceiveSlots(units);
                if (want == 0)
                {
                    _budget.Return(reserved);
                    if (Interlocked.Read(ref _messagesReceived) >= _options.MaxMessagesPerRun)
                    {
                        _messageLimitReached = true;
                    }
                    else
                    {
                        Interlocked.Increment(ref _deferredLoops); // the loops holding the last slots go on
                    }

                    return;
                }
            }

            long requestedAt = _time.GetTimestamp(); // SQS starts the visibility clock after this: a safe lower bound
            ReceiveMessageResponse response;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                timeout.CancelAfter(_options.ReceiveWaitTime + _options.ReceiveTimeoutMargin);
                try
                {
                    response = await _sqs.ReceiveMessageAsync(
                        new ReceiveMessageRequest
                        {
                            QueueUrl = _queue.QueueUrl,
                            MaxNumberOfMessages = want,
                            WaitTimeSeconds = wait,
                            MessageSystemAttributeNames = ["ApproximateReceiveCount"],
                        },
                        timeout.Token);
                    consecutiveErrors = 0;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    GiveBackReceiveSlots(want);
                    _budget.Return(reserved);
                    return;
                }
                catch (Exception ex) when (ex is OperationCanceledException or AmazonServiceException or HttpRequestException or IOException)
                {
                    GiveBackReceiveSlots(want);
                    _budget.Return(reserved);
                    if (ex is AmazonSQSException sqsError && QueueAccess.IsFatal(sqsError))
                    {
                        FailTransiently($"SQS refused the receive ({sqsError.ErrorCode}): {sqsError.Message}");
                        return;
                    }

                    string what = ex is OperationCanceledException ? "a receive did not answer in time" : $"a receive failed ({ex.GetType().Name}: {ex.Message})";
                    LogReceiveProblem(_runId, what);
                    if (++consecutiveErrors >= 3)
                    {
                        FailTransiently($"SQS receives keep failing: {what}");
                        return;
                    }

                    continue;
                }
            }

            var messages = response.Messages;
            GiveBackReceiveSlots(want - (messages?.Count ?? 0));
            if (messages is null || messages.Count == 0)
            {
                _budget.Return(reserved);
                // Long polling asks every SQS server, so an empty answer means this loop has drained the queue.
                Interlocked.Increment(ref _emptyLoops);
                return;
            }

            long leaseUntil = requestedAt + (long)(_queue.VisibilityTimeoutSeconds * _time.TimestampFrequency);
            foreach (var message in messages)
            {
                int bytes = Encoding.UTF8.GetByteCount(message.Body ?? "");
                var inFlight = new InFlightMessage(message, bytes, leaseUntil);
                _budget.Take(bytes);
                _inFlight[message.MessageId] = inFlight;
                Interlocked.Increment(ref _messagesReceived);
                _metrics.MessagesReceived.Add(1);
                if (_dryRun)
                {
                    lock (_dryRunReceived)
                    {
                        _dryRunReceived.Add(message);
                    }
                }

                await _received.Writer.WriteAsync(inFlight, CancellationToken.None);
            }

            _budget.Return(reserved); // the messages now hold their real size instead
        }
    }

    /// <summary>Reserves up to <paramref name="most"/> of the messages <c>MaxMessagesPerRun</c> still allows (received or being asked for); 0 when none is left.</summary>
    private int TakeReceiveSlots(int most)
    {
        while (true)
        {
            long taken = Interlocked.Read(ref _receiveSlots);
            int want = (int)Math.Clamp(_options.MaxMessagesPerRun - taken, 0, most);
            if (want == 0 || Interlocked.CompareExchange(ref _receiveSlots, taken + want, taken) == taken)
            {
                return want;
            }
        }
    }

    private void GiveBackReceiveSlots(int unused)
    {
        if (_options.MaxMessagesPerRun > 0 && unused > 0)
        {
            Interlocked.Add(ref _receiveSlots, -unused);
        }
    }

    // ---- decode, group, pack -----------------------------------------------------------------------

    private async Task AssembleAsync()
    {
        var packer = new RequestPacker<VisitorTag>(_options.MaxRequestBytes);
        var closed = new List<PackedRequest<VisitorTag>>();
        long linger = (long)(_options.BatchLinger.TotalSeconds * _time.TimestampFrequency);
        var reader = _received.Reader;
        while (true)
        {
            bool more;
            using (var tick = new CancellationTokenSource(TimeSpan.FromMilliseconds(500), _time))
            {
                try
                {
                    more = await reader.WaitToReadAsync(tick.Token);
                }
                catch (OperationCanceledException)
                {
                    more = true; // nothing arrived for a while: time to look at the linger limit
                }
            }

            while (reader.TryRead(out var message))
            {
                try
                {
                    Assemble(message, packer, closed);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A bug must not cost the run: this message stays in the queue, the others go on.
                    LogUnexpected(_runId, message.Message.MessageId, ex);
                    message.MarkFailed();
                    Interlocked.Increment(ref _transientFailures);
                    _lastFailure = $"unexpected error on message {message.Message.MessageId}: {ex.Message}";
                }
            }

            long now = _time.GetTimestamp();
            if (_budget.Used >= _budget.Limit || _transient)
            {
                // The receivers are waiting for memory: send everything held rather than stall.
                packer.CloseAll(closed);
            }
            else
            {
                if (packer.OpenBytes >= _budget.Limit / 2)
                {
                    // Half the budget sits in unfinished requests: send the fullest ones, keep filling the rest.
                    packer.CloseLargestUntil(_budget.Limit / 4, closed);
                }

                packer.CloseOlderThan(now - linger, closed);
            }

            if (!more)
            {
                packer.CloseAll(closed);
            }

            foreach (var request in closed)
            {
                _requests.Writer.TryWrite(request);
            }

            closed.Clear();
            if (!more)
            {
                _requests.Writer.TryComplete();
                return;
            }
        }
    }

    private void Assemble(InFlightMessage message, RequestPacker<VisitorTag> packer, List<PackedRequest<VisitorTag>> closed)
    {
        try
        {
            // Decoded from a pooled copy (messages are up to 1 MiB: a large-object-heap array each otherwise).
            var utf8 = message.RentUtf8();
            var decoded = MessageDecoder.Decode(utf8, _legacy, _legacyMissing);
            if (!decoded.Succeeded)
            {
                message.AddPending(1);
                DeadLetterMessage(Encoding.UTF8.GetString(utf8.Span), decoded.FailureReason!, decoded.FailureDetail!, message, null);
                return;
            }

            long now = _time.GetTimestamp();
            foreach (var e in decoded.Events)
            {
                Interlocked.Increment(ref _eventsReceived);
                AssembleEvent(message, e, packer, closed, now);
            }
        }
        catch
        {
            // Any exception, out of memory too: the finally below releases the guard, and a message whose
            // events were not all packed must not be deleted (the fault soak lost events this way).
            message.MarkFailed();
            throw;
        }
        finally
        {
            ReleaseUnit(message);
        }
    }

    private void AssembleEvent(InFlightMessage message, DecodedEvent e, RequestPacker<VisitorTag> packer, List<PackedRequest<VisitorTag>> closed, long now)
    {
        if (!IsAllowed(e.Url))
        {
            message.AddPending(1);
            DeadLetterMessage(WireFormat.EncodeOne(e, e.Body.Span), DeadLetterReason.EndpointNotAllowed,
                $"Event URL '{e.Url}' is not in BulkDispatch__Optimizely__AllowedEndpoints.", message, null);
            return;
        }

        if (!string.Equals(e.HttpVerb, "POST", StringComparison.OrdinalIgnoreCase))
        {
            message.AddPending(1);
            DeadLetterMessage(WireFormat.EncodeOne(e, e.Body.Span), DeadLetterReason.InvalidEvent, $"Event verb '{e.HttpVerb}' is not POST.", message, null);
            return;
        }

        if (!EventBatchParts.TryRead(e.Body, out var parts, out var error))
        {
            message.AddPending(1);
            DeadLetterMessage(WireFormat.EncodeOne(e, e.Body.Span), DeadLetterReason.InvalidEvent, error!, message, null);
            return;
        }

        var tracker = new EventTracker(message, e, parts!.Visitors.Count);
        message.AddPending(parts.Visitors.Count);
        if (parts.Visitors.Count == 0)
        {
            Interlocked.Increment(ref _eventsDelivered); // nothing in it to deliver
        }

        string group = packer.GroupKey(e.Url, parts);
        foreach (var visitor in parts.Visitors)
        {
            var tag = new VisitorTag(message, tracker);
            if (!packer.Fits(parts, visitor.Length))
            {
                tracker.MarkUndelivered();
                var body = EventBatchWriter.Write(parts.HeaderProperties, [visitor]);
                DeadLetterMessage(WireFormat.EncodeOne(e, body), DeadLetterReason.VisitorTooLarge,
                    $"One visitor makes a {body.Length}-byte request, over BulkDispatch__Flush__MaxRequestBytes ({_options.MaxRequestBytes}).", message, tracker);
                continue;
            }

            packer.Add(group, e.Url, parts, new PackedVisitor<VisitorTag>(visitor, tag), now, closed);
        }
    }

    private bool IsAllowed(string url)
    {
        // A run sees a handful of distinct URLs; parsing a Uri per event was ~400 MiB of allocations per
        // million events. The URLs come from queue data (untrusted), so the cache stays small.
        if (_allowedByUrl.TryGetValue(url, out bool allowed))
        {
            return allowed;
        }

        allowed = Uri.TryCreate(url, UriKind.Absolute, out var uri) &&
            _allowed.Any(a => Uri.Compare(a, uri, UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0);
        if (_allowedByUrl.Count < 64)
        {
            _allowedByUrl[url] = allowed;
        }

        return allowed;
    }

    // ---- send -----------------------------------------------------------------------------------------

    private async Task SendLoopAsync()
    {
        await foreach (var request in _requests.Reader.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                await SendAsync(request);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogUnexpected(_runId, "(request)", ex);
                FailTransiently($"unexpected error while sending: {ex.Message}");
                Abandon(request);
            }
        }
    }

    private async Task SendAsync(PackedRequest<VisitorTag> request)
    {
        if (_transient || _hardStop.IsCancellationRequested)
        {
            Abandon(request);
            return;
        }

        // A pooled buffer: a request body is up to MaxRequestBytes (3 MB), a large-object-heap array each time otherwise.
        byte[] rented = ArrayPool<byte>.Shared.Rent(request.Bytes);
        try
        {
            await SendBodyAsync(request, new ArraySegment<byte>(rented, 0, request.Bytes));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private async Task SendBodyAsync(PackedRequest<VisitorTag> request, ArraySegment<byte> body)
    {
        request.WriteBody(body);
        if (_dryRun)
        {
            _planned.Enqueue(Plan(request, body));
            Abandon(request);
            return;
        }

        Interlocked.Increment(ref _requestsSent);
        Interlocked.Add(ref _bytesSent, body.Count);
        _metrics.BytesSent.Add(body.Count);
        var result = await _client.PostAsync(request.Url, body, _hardStop.Token);
        _metrics.Requests.Add(1, new KeyValuePair<string, object?>("outcome", result.Status.ToString()));
        switch (result.Status)
        {
            case DeliveryStatus.Accepted:
                Interlocked.Increment(ref _requestsAccepted);
                foreach (var visitor in request.Visitors)
                {
                    Interlocked.Increment(ref _visitorsDelivered);
                    _metrics.VisitorsDelivered.Add(1);
                    if (visitor.Tag.Event.ReleaseVisitor())
                    {
                        Interlocked.Increment(ref _eventsDelivered);
                        _metrics.EventsDelivered.Add(1);
                    }

                    ReleaseUnit(visitor.Tag.Message);
                }

                break;

            case DeliveryStatus.Rejected when request.Visitors.Count > 1:
                // Find what Optimizely refuses by halving; everything else still goes through.
                var (first, second) = request.Split();
                await SendAsync(first);
                await SendAsync(second);
                break;

            case DeliveryStatus.Rejected:
                var visitorTag = request.Visitors[0].Tag;
                visitorTag.Event.MarkUndelivered();
                DeadLetterMessage(
                    WireFormat.EncodeOne(visitorTag.Event.Decoded, body),
                    DeadLetterReason.RejectedByOptimizely,
                    $"Optimizely answered HTTP {result.HttpStatus}: {result.Detail}",
                    visitorTag.Message,
                    visitorTag.Event);
                break;

            default:
                FailTransiently($"Event API request failed: {result.Detail}");
                Abandon(request);
                break;
        }
    }

    private static PlannedRequest Plan(PackedRequest<VisitorTag> request, ArraySegment<byte> body)
    {
        string account = "";
        bool valid;
        try
        {
            using var doc = JsonDocument.Parse(body);
            valid = doc.RootElement.TryGetProperty("visitors", out var v) && v.GetArrayLength() == request.Visitors.Count;
            account = doc.RootElement.TryGetProperty("account_id", out var a) ? a.ToString() : "";
        }
        catch (JsonException)
        {
            valid = false;
        }

        return new PlannedRequest(request.Url, account, request.Visitors.Count, body.Count, valid);
    }

    /// <summary>The request will not be sent in this run: its messages stay in the queue.</summary>
    private void Abandon(PackedRequest<VisitorTag> request)
    {
        foreach (var visitor in request.Visitors)
        {
            visitor.Tag.Event.MarkUndelivered();
            visitor.Tag.Event.ReleaseVisitor();
            visitor.Tag.Message.MarkFailed();
            ReleaseUnit(visitor.Tag.Message);
        }
    }

    private void FailTransiently(string what)
    {
        Interlocked.Increment(ref _transientFailures);
        _metrics.TransientFailures.Add(1);
        _lastFailure = what;
        if (!_transient)
        {
            _transient = true;
            LogStopping(_runId, what);
        }

        try
        {
            _stopReceiving.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    // ---- acknowledge -----------------------------------------------------------------------------

    /// <summary>One pending unit of a message is resolved; the last one deletes or releases it.</summary>
    private void ReleaseUnit(InFlightMessage message)
    {
        if (!message.Release())
        {
            return;
        }

        if (!message.Failed && !_dryRun)
        {
            _deletes.Writer.TryWrite(message);
            return;
        }

        Forget(message);
    }

    private void Forget(InFlightMessage message)
    {
        if (_inFlight.TryRemove(message.Message.MessageId, out _))
        {
            _budget.Return(message.Bytes);
            message.ReturnUtf8();
        }
    }

    private async Task DeleteLoopAsync()
    {
        var reader = _deletes.Reader;
        var batch = new List<InFlightMessage>(10);
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < 10 && reader.TryRead(out var m))
            {
                batch.Add(m);
            }

            if (batch.Count < 10 && !reader.Completion.IsCompleted)
            {
                // Give a batch a moment to fill: one DeleteMessageBatch for ten messages costs the same as for one.
                await Task.Delay(TimeSpan.FromMilliseconds(20), _time);
                while (batch.Count < 10 && reader.TryRead(out var m))
                {
                    batch.Add(m);
                }
            }

            if (batch.Count > 0) // the other deleter may have taken what woke this one
            {
                await DeleteBatchAsync(batch);
                batch.Clear();
            }
        }
    }

    private async Task DeleteBatchAsync(List<InFlightMessage> batch)
    {
        try
        {
            var response = await _sqs.DeleteMessageBatchAsync(
                new DeleteMessageBatchRequest
                {
                    QueueUrl = _queue.QueueUrl,
                    Entries = batch.Select((m, i) => new DeleteMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.Message.ReceiptHandle)).ToList(),
                },
                _finalStop.Token);
            int ok = response.Successful?.Count ?? 0;
            Interlocked.Add(ref _messagesDeleted, ok);
            _metrics.MessagesDeleted.Add(ok);
            foreach (var failed in response.Failed ?? [])
            {
                // The message comes back after its visibility timeout and is delivered again (uuid de-duplication makes that harmless).
                LogDeleteFailed(_runId, failed.Id, failed.Code, failed.Message);
            }
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or OperationCanceledException or IOException)
        {
            LogDeleteError(_runId, batch.Count, ex.Message);
        }
        finally
        {
            foreach (var m in batch)
            {
                Forget(m);
            }
        }
    }

    // ---- dead letters ---------------------------------------------------------------------------------

    private void DeadLetterMessage(string body, string reason, string detail, InFlightMessage owner, EventTracker? tracker)
    {
        _deadLetters.Writer.TryWrite(new DeadLetter(body, reason, detail, owner, tracker));
    }

    private async Task DeadLetterLoopAsync()
    {
        var reader = _deadLetters.Reader;
        var batch = new List<DeadLetter>(10);
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            // A SendMessageBatch carries at most 10 entries and 256 KiB in all (the smallest limit a queue may have).
            long batchBytes = 0;
            while (batch.Count < 10 && reader.TryPeek(out var next))
            {
                long size = Encoding.UTF8.GetByteCount(next.Body) + 2048;
                if (batch.Count > 0 && batchBytes + size > MaxDeadLetterBatchBytes)
                {
                    break;
                }

                reader.TryRead(out _);
                batchBytes += size;
                batch.Add(next);
            }

            await SendDeadLettersAsync(batch);
            batch.Clear();
        }
    }

    private async Task SendDeadLettersAsync(List<DeadLetter> batch)
    {
        var outcome = new bool[batch.Count];
        if (_dryRun)
        {
            foreach (var d in batch)
            {
                CountDeadLetter(d.Reason);
            }
        }
        else if (_queue.DeadLetterQueueUrl is null)
        {
            if (!_dlqMissingLogged)
            {
                _dlqMissingLogged = true;
                LogNoDeadLetterQueue(_runId);
            }

            Interlocked.Add(ref _transientFailures, batch.Count);
            _lastFailure = "no dead-letter queue: set BulkDispatch__Sqs__DeadLetterQueueUrl or give the queue a RedrivePolicy";
        }
        else
        {
            try
            {
                var response = await _sqs.SendMessageBatchAsync(
                    new SendMessageBatchRequest
                    {
                        QueueUrl = _queue.DeadLetterQueueUrl,
                        Entries = batch.Select((d, i) => new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), d.Body)
                        {
                            MessageAttributes = new Dictionary<string, MessageAttributeValue>
                            {
                                [WireFormat.ReasonAttribute] = new() { DataType = "String", StringValue = d.Reason },
                                [WireFormat.DetailAttribute] = new() { DataType = "String", StringValue = Truncate(d.Detail, 1000) },
                            },
                        }).ToList(),
                    },
                    _finalStop.Token);
                foreach (var ok in response.Successful ?? [])
                {
                    outcome[int.Parse(ok.Id, CultureInfo.InvariantCulture)] = true;
                }

                foreach (var failed in response.Failed ?? [])
                {
                    LogDeadLetterFailed(_runId, failed.Code, failed.Message);
                }
            }
            catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or OperationCanceledException or IOException)
            {
                LogDeadLetterFailed(_runId, ex.GetType().Name, ex.Message);
            }
        }

        for (int i = 0; i < batch.Count; i++)
        {
            var d = batch[i];
            if (outcome[i])
            {
                CountDeadLetter(d.Reason);
                LogDeadLettered(_runId, d.Reason, d.Detail);
            }
            else
            {
                // Not in the DLQ: keep the message in the main queue rather than lose the event.
                d.Owner.MarkFailed();
            }

            d.Event?.ReleaseVisitor();
            ReleaseUnit(d.Owner);
        }
    }

    private void CountDeadLetter(string reason)
    {
        _deadLettered.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _metrics.DeadLettered.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";

    // ---- visibility -----------------------------------------------------------------------------------

    /// <summary>Extends the visibility of messages still held when a run outlasts the queue's visibility timeout.</summary>
    private async Task KeepLeasesAsync(CancellationToken stop)
    {
        int visibility = Math.Max(1, _queue.VisibilityTimeoutSeconds);
        // Look well within the margin: a lease just above it when looked at must still be renewed in time next look.
        var period = TimeSpan.FromSeconds(Math.Max(0.2, visibility / 4.0));
        long margin = (long)(visibility / 2.0 * _time.TimestampFrequency);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, _time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            long now = _time.GetTimestamp();
            var due = _inFlight.Values.Where(m => !m.Failed && m.LeaseUntil - now < margin).ToList();
            foreach (var chunk in due.Chunk(10))
            {
                long requestedAt = _time.GetTimestamp();
                try
                {
                    var response = await _sqs.ChangeMessageVisibilityBatchAsync(
                        new ChangeMessageVisibilityBatchRequest
                        {
                            QueueUrl = _queue.QueueUrl,
                            Entries = chunk.Select((m, i) => new ChangeMessageVisibilityBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.Message.ReceiptHandle) { VisibilityTimeout = visibility }).ToList(),
                        },
                        stop);
                    long until = requestedAt + (long)(visibility * _time.TimestampFrequency);
                    foreach (var ok in response.Successful ?? [])
                    {
                        chunk[int.Parse(ok.Id, CultureInfo.InvariantCulture)].LeaseUntil = until;
                    }
                }
                catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or OperationCanceledException or IOException)
                {
                    LogLeaseError(_runId, ex.Message);
                }
            }
        }
    }

    private async Task ReleaseDryRunMessagesAsync()
    {
        // A dry run must not hide messages from the next real run for a whole visibility timeout.
        foreach (var chunk in _dryRunReceived.Chunk(10))
        {
            try
            {
                await _sqs.ChangeMessageVisibilityBatchAsync(
                    new ChangeMessageVisibilityBatchRequest
                    {
                        QueueUrl = _queue.QueueUrl,
                        Entries = chunk.Select((m, i) => new ChangeMessageVisibilityBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.ReceiptHandle) { VisibilityTimeout = 0 }).ToList(),
                    },
                    _finalStop.Token);
            }
            catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or OperationCanceledException or IOException)
            {
                LogLeaseError(_runId, ex.Message);
            }
        }
    }

    private async Task<long?> ApproximateDepthAsync()
    {
        try
        {
            var attributes = await _sqs.GetQueueAttributesAsync(
                new GetQueueAttributesRequest { QueueUrl = _queue.QueueUrl, AttributeNames = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] },
                _finalStop.Token);
            return (long)attributes.ApproximateNumberOfMessages + attributes.ApproximateNumberOfMessagesNotVisible;
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or OperationCanceledException or IOException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: unexpected error on message {MessageId}; it stays in the queue")]
    private partial void LogUnexpected(string runId, string messageId, Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: {What}; retrying")]
    private partial void LogReceiveProblem(string runId, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: stopping: {What}. Undelivered messages stay in the queue for the next run")]
    private partial void LogStopping(string runId, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: delete entry {Id} failed ({Code}: {Detail}); the message will be delivered again")]
    private partial void LogDeleteFailed(string runId, string id, string code, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: deleting {Count} messages failed ({Detail}); they will be delivered again")]
    private partial void LogDeleteError(string runId, int count, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: a permanent failure has nowhere to go: no dead-letter queue. Set BulkDispatch__Sqs__DeadLetterQueueUrl or give the queue a RedrivePolicy; the messages stay in the queue")]
    private partial void LogNoDeadLetterQueue(string runId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: sending to the dead-letter queue failed ({Code}: {Detail}); the message stays in the main queue")]
    private partial void LogDeadLetterFailed(string runId, string code, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: dead-lettered ({Reason}): {Detail}")]
    private partial void LogDeadLettered(string runId, string reason, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: changing message visibility failed: {Detail}")]
    private partial void LogLeaseError(string runId, string detail);
}
