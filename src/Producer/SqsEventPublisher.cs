using System.Diagnostics.Metrics;
using Amazon.SQS;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Producer.Buffering;
using BulkDispatch.Producer.Diagnostics;
using BulkDispatch.Producer.Sending;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.Producer;

/// <summary>
/// Takes SDK events on the request path in microseconds and writes them to SQS in the background:
/// several events per message, up to ten messages per SendMessageBatch, retried until SQS takes
/// them. <see cref="TryPublish"/> never throws and never waits on I/O.
/// </summary>
/// <remarks>
/// Counts go to <see cref="Statistics"/> and to the <c>BulkDispatch.Producer</c> meter; drops and refusals are logged as
/// warnings (category <c>BulkDispatch.Producer</c>), each kind at most once per <c>DropWarningInterval</c>.
/// </remarks>
public sealed class SqsEventPublisher : IAsyncDisposable
{
    private readonly ProducerOptions _options;
    private readonly IAmazonSQS _sqs;
    private readonly bool _ownsClient;
    private readonly TimeProvider _time;
    private readonly EventAdmission _admission;
    private readonly EventBuffer _buffer;
    private readonly ProducerMetrics _metrics;
    private readonly ProducerWarnings _warnings;
    private readonly EventOutcomes _outcomes;
    private readonly EventPump _pump;
    private int _disposed;

    /// <summary>A publisher with its own SQS client using the AWS SDK's default credential chain.</summary>
    public SqsEventPublisher(ProducerOptions options)
        : this(options, ProducerServiceCollectionExtensions.CreateOwnedClient(Validated(options)), NullLoggerFactory.Instance, null, TimeProvider.System, ownsClient: true)
    {
    }

    /// <summary>A publisher on a client you own (it is not disposed with the publisher).</summary>
    public SqsEventPublisher(ProducerOptions options, IAmazonSQS sqs, ILoggerFactory loggerFactory)
        : this(options, sqs, loggerFactory, null, TimeProvider.System, ownsClient: false)
    {
    }

    /// <summary>
    /// A publisher on a client you own (it is not disposed with the publisher) whose <c>BulkDispatch.Producer</c> meter
    /// comes from <paramref name="meterFactory"/> (e.g. the container's); null: a process-wide meter of its own.
    /// </summary>
    public SqsEventPublisher(ProducerOptions options, IAmazonSQS sqs, ILoggerFactory loggerFactory, IMeterFactory? meterFactory)
        : this(options, sqs, loggerFactory, meterFactory, TimeProvider.System, ownsClient: false)
    {
    }

    internal SqsEventPublisher(ProducerOptions options, IAmazonSQS sqs, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, TimeProvider time, bool ownsClient)
    {
        _options = Validated(options);
        _sqs = sqs ?? throw new ArgumentNullException(nameof(sqs));
        _ownsClient = ownsClient;
        _time = time;
        loggerFactory ??= NullLoggerFactory.Instance;
        _admission = new EventAdmission(time, options.MaxMessageBytes);
        _buffer = new EventBuffer(options, time);
        var accounting = _buffer.Accounting;
        _metrics = new ProducerMetrics(meterFactory ?? ProducerMeterFactory.Shared, () => accounting.Events);
        _warnings = new ProducerWarnings(loggerFactory.CreateLogger("BulkDispatch.Producer"), options, time);
        _outcomes = new EventOutcomes(accounting, _metrics, _warnings);
        var gateway = new SqsGateway(sqs, new SqsGatewayOptions { TimeProvider = time, LoggerFactory = loggerFactory });
        _pump = new EventPump(_buffer.Reader, options, gateway, _admission, _outcomes, _metrics, _warnings, time);
    }

    /// <summary>Counts since the publisher was created.</summary>
    public ProducerStatistics Statistics => _metrics.Snapshot(_buffer.Accounting.Events);

    /// <summary>
    /// Also receives the text of each warning the publisher logs about events (drops, refusals) and its setup (the queue's
    /// MaximumMessageSize unreadable), e.g. to forward them to the Optimizely SDK's logger; null for none. It is called on
    /// the thread that raised the warning (possibly a <see cref="TryPublish"/> caller's): it must return quickly. What it
    /// throws is ignored.
    /// </summary>
    public Action<string>? WarningSink
    {
        get => _warnings.Sink;
        set => _warnings.Sink = value;
    }

    /// <summary>
    /// Hands one event to the background pump. Does no I/O; returns false when the event was refused
    /// (invalid or too large: logged with the reason) or dropped (buffer full, publisher disposed: counted).
    /// With <see cref="OverflowPolicy.Block"/> a full buffer makes the call wait up to <c>BlockTimeout</c> for room.
    /// </summary>
    public bool TryPublish(string url, string httpVerb, IReadOnlyDictionary<string, string> headers, string jsonBody)
    {
        try
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                _outcomes.NotTaken(DropReason.Disposed);
                return false;
            }

            var admission = _admission.Admit(url, httpVerb, headers, jsonBody);
            if (admission.Event is not { } item)
            {
                Refuse(admission);
                return false;
            }

            if (!_buffer.TryAdd(item) && !(_options.OverflowPolicy == OverflowPolicy.Block && _buffer.TryAdd(item, _options.BlockTimeout)))
            {
                _outcomes.NotTaken(DropReason.BufferFull);
                return false;
            }

            _outcomes.Published();
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The SDK only logs what a dispatcher throws, and the event is then gone: never throw.
            _outcomes.NotTaken(RefusalKind.Error);
            _warnings.RefusedOnError(ex.Message);
            return false;
        }
    }

    /// <summary>Returns when every event published before the call is in SQS (or was dropped/refused), or when the token fires.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var marker = PendingEvent.NewMarker();
        if (Volatile.Read(ref _disposed) != 0 || !_buffer.TryAddMarker(marker))
        {
            await TimeCompat.WaitAsync(_pump.Completion, cancellationToken).ConfigureAwait(false);
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

        _buffer.Complete();
        using (var deadline = TimeCompat.CancelAfter(_time, _options.DisposeTimeout))
        using (deadline.Token.Register(_pump.Stop))
        {
            try
            {
                await _pump.Completion.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        // Whatever is still held (in a batch the pump was filling or waiting to send) is lost now: count it.
        long lost = _outcomes.Abandon();
        if (lost > 0)
        {
            _warnings.DisposeDeadline(lost);
        }

        _metrics.Dispose();
        _pump.Dispose();
        if (_ownsClient)
        {
            _sqs.Dispose();
        }
    }

    private void Refuse(Admission refused)
    {
        _outcomes.NotTaken(refused.Refusal!.Value);
        if (refused.Refusal == RefusalKind.TooLarge)
        {
            _warnings.RefusedTooLarge(refused.BodyBytes, _admission.MaxMessageBytes);
        }
        else
        {
            _warnings.RefusedMissing();
        }
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
}
