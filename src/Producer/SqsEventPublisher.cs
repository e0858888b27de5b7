using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer.Buffering;
using BulkDispatch.Producer.Sending;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.Producer;

/// <summary>
/// Takes SDK events on the request path in microseconds and writes them to SQS in the background:
/// several events per message, up to ten messages per SendMessageBatch, retried until SQS takes
/// them. <see cref="TryPublish"/> never throws and never waits on I/O.
/// </summary>
public sealed class SqsEventPublisher : IAsyncDisposable
{
    private const int DefaultMaxMessageBytes = 256 * 1024;
    private const int SqsMaxMessageBytes = SqsLimits.MaxMessageBytes;
    private static readonly Meter Meter = new("BulkDispatch.Producer");
    private static readonly Counter<long> PublishedCounter = Meter.CreateCounter<long>("bulkdispatch.producer.events.published", "{event}");
    private static readonly Counter<long> SentCounter = Meter.CreateCounter<long>("bulkdispatch.producer.events.sent", "{event}");
    private static readonly Counter<long> DroppedCounter = Meter.CreateCounter<long>("bulkdispatch.producer.events.dropped", "{event}");
    private static readonly Counter<long> RefusedCounter = Meter.CreateCounter<long>("bulkdispatch.producer.events.refused", "{event}");
    private static readonly Counter<long> RequestCounter = Meter.CreateCounter<long>("bulkdispatch.producer.requests", "{request}");
    private static readonly Counter<long> SendFailureCounter = Meter.CreateCounter<long>("bulkdispatch.producer.send_failures", "{failure}", "SendMessageBatch attempts that failed and were retried");
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<SqsEventPublisher, byte> Live = new();
    private static readonly ObservableGauge<long> BufferedGauge = Meter.CreateObservableGauge(
        "bulkdispatch.producer.buffered", () => Live.Keys.Sum(p => Interlocked.Read(ref p._bufferedEvents)), "{event}", "Events held in memory, not yet in SQS");

    private readonly ProducerOptions _options;
    private readonly IAmazonSQS _sqs;
    private readonly SqsGateway _gateway;
    private readonly bool _ownsClient;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<PendingEvent> _buffer;
    private readonly SqsRetryPolicy _sendRetry;
    private readonly SemaphoreSlim _sendSlots;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _inFlight = [];
    private readonly Task _pump;
    private readonly EventEncoder _encoder = new(); // used by the pump only

    private long _published, _sent, _dropped, _refused, _requests, _bufferedEvents, _bufferedBytes;
    private long _droppedSinceWarning;
    private long _lastWarningAt;
    private int _disposed;
    private static readonly Dictionary<string, string> EmptyHeaders = [];
    private volatile int _maxEventBytes = SqsMaxMessageBytes;
    private volatile Dictionary<string, string>? _lastHeaders;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RefusalState> _refusals = new(StringComparer.Ordinal);
    private string? _queueUrl;

    /// <summary>A publisher with its own SQS client using the AWS SDK's default credential chain.</summary>
    public SqsEventPublisher(ProducerOptions options)
        : this(options, ProducerServiceCollectionExtensions.CreateOwnedClient(Validated(options)), NullLoggerFactory.Instance, TimeProvider.System, ownsClient: true)
    {
    }

    /// <summary>A publisher on a client you own (it is not disposed with the publisher).</summary>
    public SqsEventPublisher(ProducerOptions options, IAmazonSQS sqs, ILoggerFactory loggerFactory)
        : this(options, sqs, loggerFactory, TimeProvider.System, ownsClient: false)
    {
    }

    internal SqsEventPublisher(ProducerOptions options, IAmazonSQS sqs, ILoggerFactory loggerFactory, TimeProvider time, bool ownsClient)
    {
        _options = Validated(options);
        _sqs = sqs ?? throw new ArgumentNullException(nameof(sqs));
        _ownsClient = ownsClient;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("BulkDispatch.Producer");
        _time = time;
        _gateway = new SqsGateway(sqs, new SqsGatewayOptions { TimeProvider = time, LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance });
        if (options.MaxMessageBytes > 0)
        {
            _maxEventBytes = options.MaxMessageBytes;
        }

        _buffer = Channel.CreateBounded<PendingEvent>(new BoundedChannelOptions(options.BufferCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _sendSlots = new SemaphoreSlim(options.SendConcurrency, options.SendConcurrency);
        // Retry until SQS takes the entries: the buffer's bound, not a retry count, limits what is held.
        _sendRetry = SqsRetryPolicy.UntilCancelled(options.RetryBaseDelay, options.RetryMaxDelay, retry =>
        {
            // While SQS is unreachable the pump waits for a send slot and never reaches its own check.
            WarnAboutDrops(force: false);
            SendFailureCounter.Add(1);
            if (retry.Attempt is 0 or 5 or 20 || retry.Attempt % 100 == 0)
            {
                _logger.LogWarning(retry.Exception, "BulkDispatch producer: sending to SQS failed (attempt {Attempt}); retrying in {Delay}. Events stay buffered.", retry.Attempt + 1, retry.Delay);
            }
        });
        Live.TryAdd(this, 0);
        _ = BufferedGauge;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>
    /// <paramref name="options"/>, or an exception naming every invalid setting. Checked before a client is made from them:
    /// the AWS SDK's own error for a bad endpoint would echo it, password and all.
    /// </summary>
    private static ProducerOptions Validated(ProducerOptions options)
    {
        var errors = new ProducerOptionsValidator(null).Errors(options ?? throw new ArgumentNullException(nameof(options)));
        return errors.Count == 0
            ? options
            : throw new ArgumentException("BulkDispatch producer settings are invalid:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)), nameof(options));
    }

    /// <summary>Counts since the publisher was created.</summary>
    public ProducerStatistics Statistics => new(
        Interlocked.Read(ref _published),
        Interlocked.Read(ref _sent),
        Interlocked.Read(ref _dropped),
        Interlocked.Read(ref _refused),
        Interlocked.Read(ref _requests),
        Interlocked.Read(ref _bufferedEvents));

    /// <summary>Receives the warnings the publisher logs (drops, refusals), e.g. to forward them to the Optimizely SDK's logger.</summary>
    internal Action<string>? WarningSink { get; set; }

    /// <summary>
    /// Hands one event to the background pump. Does no I/O; returns false when the event was refused
    /// (invalid or too large: logged with the reason) or dropped (buffer full, publisher disposed: counted).
    /// </summary>
    public bool TryPublish(string url, string httpVerb, IReadOnlyDictionary<string, string> headers, string jsonBody)
    {
        try
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                Drop(1, "disposed");
                return false;
            }

            if (string.IsNullOrEmpty(url) || string.IsNullOrEmpty(jsonBody))
            {
                Refuse(1, "missing", "an event without a URL or a body was refused");
                return false;
            }

            // A cheap early refusal; the pump checks the exact encoded size.
            int bytes = Encoding.UTF8.GetByteCount(jsonBody);
            if (WireFormat.EnvelopeBytes + bytes + url.Length + 64 > _maxEventBytes)
            {
                Refuse(1, "too-large", $"an event of {bytes} bytes was refused: it is larger than the largest message the queue accepts ({_maxEventBytes} bytes)");
                return false;
            }

            var item = PendingEvent.For(new QueuedEvent(url, string.IsNullOrEmpty(httpVerb) ? "POST" : httpVerb, CopyOf(headers), jsonBody, _time.GetUtcNow()), bytes);
            if (!TryEnqueue(item) && !(_options.OverflowPolicy == OverflowPolicy.Block && WaitAndEnqueue(item)))
            {
                Drop(1);
                return false;
            }

            Interlocked.Increment(ref _published);
            PublishedCounter.Add(1);
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The SDK only logs what a dispatcher throws, and the event is then gone: never throw.
            Refuse(1, "error", "an event was refused: " + ex.Message);
            return false;
        }
    }

    /// <summary>Returns when every event published before the call is in SQS (or was dropped/refused), or when the token fires.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            await TimeCompat.WaitAsync(_pump, cancellationToken).ConfigureAwait(false);
            return;
        }

        var marker = PendingEvent.NewMarker();
        try
        {
            await _buffer.Writer.WriteAsync(marker, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            await TimeCompat.WaitAsync(_pump, cancellationToken).ConfigureAwait(false);
            return;
        }

        await TimeCompat.WaitAsync(marker.Marker!.Task, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends what is buffered (within <c>DisposeTimeout</c>), then stops the pump.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _buffer.Writer.TryComplete();
        using (var deadline = TimeCompat.CancelAfter(_time, _options.DisposeTimeout))
        using (deadline.Token.Register(() => _stop.Cancel()))
        {
            try
            {
                await _pump.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        // Whatever is still held (in a batch the pump was filling or waiting to send) is lost now: count it.
        long lost = Interlocked.Exchange(ref _bufferedEvents, 0);
        Interlocked.Exchange(ref _bufferedBytes, 0);
        if (lost > 0)
        {
            Interlocked.Add(ref _dropped, lost);
            DroppedCounter.Add(lost, new KeyValuePair<string, object?>("reason", "dispose_deadline"));
            Warn($"BulkDispatch producer: {lost} buffered events could not be sent within DisposeTimeout ({_options.DisposeTimeout}) and are dropped.");
        }

        Live.TryRemove(this, out _);
        _encoder.Dispose();
        _stop.Dispose();
        _sendSlots.Dispose();
        if (_ownsClient)
        {
            _sqs.Dispose();
        }
    }

    private bool TryEnqueue(PendingEvent item)
    {
        if (Interlocked.Add(ref _bufferedBytes, item.Bytes) > _options.BufferBytes)
        {
            Interlocked.Add(ref _bufferedBytes, -item.Bytes);
            return false;
        }

        // The bound covers every event held, not only those still in the channel: the pump takes events out
        // of the channel into batches and sends that may be retrying for as long as SQS is unreachable.
        if (Interlocked.Increment(ref _bufferedEvents) > _options.BufferCapacity)
        {
            Interlocked.Add(ref _bufferedBytes, -item.Bytes);
            Interlocked.Decrement(ref _bufferedEvents);
            return false;
        }

        if (_buffer.Writer.TryWrite(item))
        {
            return true;
        }

        Interlocked.Add(ref _bufferedBytes, -item.Bytes);
        Interlocked.Decrement(ref _bufferedEvents);
        return false;
    }

    /// <summary>
    /// A private copy of the headers (the caller may reuse its dictionary). The SDK sends the same
    /// headers with every event, so the last copy is shared while they stay equal: no allocation.
    /// </summary>
    private Dictionary<string, string> CopyOf(IReadOnlyDictionary<string, string>? headers)
    {
        var last = _lastHeaders;
        if (headers is null || headers.Count == 0)
        {
            return EmptyHeaders;
        }

        if (last is not null && SameHeaders(last, headers))
        {
            return last;
        }

        var copy = new Dictionary<string, string>(headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var pair in headers)
        {
            copy[pair.Key] = pair.Value;
        }

        _lastHeaders = copy;
        return copy;
    }

    private static bool SameHeaders(Dictionary<string, string> copy, IReadOnlyDictionary<string, string> headers)
    {
        if (copy.Count != headers.Count)
        {
            return false;
        }

        foreach (var pair in headers)
        {
            if (!copy.TryGetValue(pair.Key, out var value) || !string.Equals(value, pair.Value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private bool WaitAndEnqueue(PendingEvent item)
    {
        // Opt-in policy: the caller chose to wait for room rather than lose the event.
        long start = _time.GetTimestamp();
        var spin = default(SpinWait);
        while (Volatile.Read(ref _disposed) == 0)
        {
            if (TryEnqueue(item))
            {
                return true;
            }

            if (_time.GetElapsedTime(start) >= _options.BlockTimeout)
            {
                return false;
            }

            spin.SpinOnce();
        }

        return false;
    }

    private async Task PumpAsync()
    {
        var reader = _buffer.Reader;
        try
        {
            await InitializeAsync().ConfigureAwait(false);
            int maxMessage = _maxEventBytes;
            int maxBatch = Math.Min(SqsMaxMessageBytes, maxMessage * OutgoingBatch.MaxEntries);
            var batch = new OutgoingBatch(maxMessage, maxBatch);
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                await LingerAsync(reader).ConfigureAwait(false);
                while (reader.TryRead(out var item))
                {
                    if (item.Marker is { } marker)
                    {
                        // Everything before the marker is in a batch: send it and wait for every send so far.
                        batch = await SendAsync(batch, maxMessage, maxBatch).ConfigureAwait(false);
                        await WaitForSendsAsync().ConfigureAwait(false);
                        marker.TrySetResult(true);
                        continue;
                    }

                    batch = await AddAsync(batch, item, maxMessage, maxBatch).ConfigureAwait(false);
                }

                batch = await SendAsync(batch, maxMessage, maxBatch).ConfigureAwait(false);
                WarnAboutDrops(force: false);
            }

            await WaitForSendsAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            await WaitForSendsAsync().ConfigureAwait(false);
            while (reader.TryRead(out var item))
            {
                if (item.Event is not null)
                {
                    Release(item.Bytes, 1);
                    Drop(1, "dispose_deadline");
                }

                item.Marker?.TrySetResult(false);
            }
        }
        finally
        {
            WarnAboutDrops(force: true);
        }
    }

    /// <summary>After the first event of a batch, waits up to the linger time for the batch to fill.</summary>
    private async Task LingerAsync(ChannelReader<PendingEvent> reader)
    {
        if (_options.Linger > TimeSpan.Zero && reader.Count < 100)
        {
            await TimeCompat.Delay(_time, _options.Linger, _stop.Token).ConfigureAwait(false);
        }
    }

    private async Task<OutgoingBatch> AddAsync(OutgoingBatch batch, PendingEvent item, int maxMessage, int maxBatch)
    {
        byte[] fragment;
        try
        {
            fragment = _encoder.Encode(item.Event!);
        }
        catch (JsonException ex)
        {
            Release(item.Bytes, 1);
            Refuse(1, "invalid-json", $"an event for {item.Event!.Url} was refused: its body is not valid JSON ({ex.Message})");
            return batch;
        }

        if (!batch.CanEverHold(fragment))
        {
            Release(item.Bytes, 1);
            Refuse(1, "too-large", $"an event of {fragment.Length} bytes was refused: it is larger than the queue's MaximumMessageSize ({maxMessage} bytes)");
            return batch;
        }

        if (!batch.TryAdd(fragment, item.Bytes))
        {
            batch = await SendAsync(batch, maxMessage, maxBatch).ConfigureAwait(false);
            batch.TryAdd(fragment, item.Bytes);
        }

        return batch;
    }

    /// <summary>Starts sending a full or lingering batch (at most SendConcurrency at once) and returns a fresh one.</summary>
    private async Task<OutgoingBatch> SendAsync(OutgoingBatch batch, int maxMessage, int maxBatch)
    {
        if (batch.IsEmpty)
        {
            return batch;
        }

        await _sendSlots.WaitAsync(_stop.Token).ConfigureAwait(false);
        var task = Task.Run(async () =>
        {
            try
            {
                await SendBatchAsync(batch.Messages).ConfigureAwait(false);
            }
            finally
            {
                _sendSlots.Release();
            }
        });
        lock (_inFlight)
        {
            _inFlight.RemoveAll(t => t.IsCompleted);
            _inFlight.Add(task);
        }

        return new OutgoingBatch(maxMessage, maxBatch);
    }

    private async Task WaitForSendsAsync()
    {
        Task[] running;
        lock (_inFlight)
        {
            running = [.. _inFlight];
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task SendBatchAsync(List<OutgoingMessage> messages)
    {
        var split = new List<OutgoingMessage>();
        var result = await _gateway.SendBatchAsync(
            _queueUrl!, messages.Select(m => new SqsOutgoingMessage(WireFormat.Compose(m.Fragments))).ToList(), SqsMaxMessageBytes, _sendRetry, _stop.Token).ConfigureAwait(false);
        Interlocked.Add(ref _requests, result.Requests);
        RequestCounter.Add(result.Requests);
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            var outcome = result.Outcomes[i];
            if (outcome.Succeeded)
            {
                Release(message.BufferedBytes, message.Fragments.Count);
                Interlocked.Add(ref _sent, message.Fragments.Count);
                SentCounter.Add(message.Fragments.Count);
            }
            else if (outcome.Failure == SqsFailureKind.SenderFault && message.Fragments.Count > 1)
            {
                // SQS says this entry itself is invalid, and several events share the message (too large for the queue, or
                // one bad event among them): send the halves on their own, so only an event that can never be delivered is refused.
                var (first, second) = message.Split();
                split.Add(first);
                split.Add(second);
            }
            else if (outcome.Failure == SqsFailureKind.SenderFault)
            {
                Release(message.BufferedBytes, message.Fragments.Count);
                Refuse(message.Fragments.Count, "sqs-rejected", $"SQS refused a message of {message.Bytes} bytes holding {message.Fragments.Count} events ({outcome.Code}: {outcome.Message})");
            }
            else
            {
                // Every other failure is retried until the publisher stops: this one was cut off by the dispose deadline.
                Release(message.BufferedBytes, message.Fragments.Count);
                Drop(message.Fragments.Count, "dispose_deadline");
            }
        }

        // The halves of refused messages go out on their own (the gateway batches them; dropped there if stopping).
        if (split.Count > 0)
        {
            await SendBatchAsync(split).ConfigureAwait(false);
        }
    }

    /// <summary>Resolves the queue URL and its MaximumMessageSize, retrying while SQS is unreachable.</summary>
    private async Task InitializeAsync()
    {
        await _gateway.CallAsync(
            "ResolveQueue",
            async (sqs, token) =>
            {
                _queueUrl = string.IsNullOrWhiteSpace(_options.Sqs.QueueUrl)
                    ? (await sqs.GetQueueUrlAsync(_options.Sqs.QueueName, token).ConfigureAwait(false)).QueueUrl
                    : _options.Sqs.QueueUrl;
                if (_options.MaxMessageBytes == 0)
                {
                    try
                    {
                        var attributes = await sqs.GetQueueAttributesAsync(
                            new GetQueueAttributesRequest { QueueUrl = _queueUrl, AttributeNames = ["MaximumMessageSize"] },
                            token).ConfigureAwait(false);
                        _maxEventBytes = attributes.MaximumMessageSize > 0 ? attributes.MaximumMessageSize : DefaultMaxMessageBytes;
                    }
                    catch (AmazonServiceException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Forbidden || (ex.ErrorCode?.StartsWith("AccessDenied", StringComparison.Ordinal) ?? false))
                    {
                        // A role allowed only to send cannot read the limit: retrying would never send anything.
                        _maxEventBytes = DefaultMaxMessageBytes;
                        Warn($"BulkDispatch producer: the queue's MaximumMessageSize could not be read ({ex.ErrorCode}); writing messages of at most {DefaultMaxMessageBytes} bytes. Set BulkDispatch__Producer__MaxMessageBytes to skip the lookup.");
                    }
                }

                return 0;
            },
            _sendRetry,
            _stop.Token).ConfigureAwait(false);
    }

    private void Release(long bytes, long events)
    {
        Interlocked.Add(ref _bufferedBytes, -bytes);
        Interlocked.Add(ref _bufferedEvents, -events);
    }

    private void Drop(long events, string reason = "buffer_full")
    {
        Interlocked.Add(ref _dropped, events);
        Interlocked.Add(ref _droppedSinceWarning, events);
        DroppedCounter.Add(events, new KeyValuePair<string, object?>("reason", reason));
    }

    private void Refuse(long events, string kind, string reason)
    {
        Interlocked.Add(ref _refused, events);
        RefusedCounter.Add(events, new KeyValuePair<string, object?>("reason", kind));

        // Each kind of refusal is logged with its reason at most once per DropWarningInterval (a flood of bad
        // events must not flood the log from the caller's thread); the rest are counted into the next line.
        long now = _time.GetTimestamp();
        var state = _refusals.GetOrAdd(kind, _ => new RefusalState());
        lock (state)
        {
            if (state.LastWarningAt != 0 && _time.GetElapsedTime(state.LastWarningAt, now) < _options.DropWarningInterval)
            {
                state.Suppressed += events;
                return;
            }

            state.LastWarningAt = now;
            long earlier = state.Suppressed;
            state.Suppressed = 0;
            Warn("BulkDispatch producer: " + reason + (earlier > 0 ? $" ({earlier} more events were refused for this reason since the last warning)." : "."));
        }
    }

    private sealed class RefusalState
    {
        public long LastWarningAt { get; set; }

        public long Suppressed { get; set; }
    }

    private void WarnAboutDrops(bool force)
    {
        long now = _time.GetTimestamp();
        long last = Interlocked.Read(ref _lastWarningAt);
        if (!force && last != 0 && _time.GetElapsedTime(last, now) < _options.DropWarningInterval)
        {
            return;
        }

        long dropped = Interlocked.Exchange(ref _droppedSinceWarning, 0);
        if (dropped > 0)
        {
            Interlocked.Exchange(ref _lastWarningAt, now);
            Warn($"BulkDispatch producer: dropped {dropped} events since the last warning because the buffer was full " +
                 $"(BufferCapacity {_options.BufferCapacity} events, BufferBytes {_options.BufferBytes}) or the publisher was disposed; SQS may be unreachable or slower than the event rate.");
        }
    }

    private void Warn(string message)
    {
        _logger.LogWarning("{Message}", message);
        WarningSink?.Invoke(message);
    }
}
