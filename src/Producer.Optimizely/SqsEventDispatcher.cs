using OptimizelySDK.Event;
using OptimizelySDK.Event.Dispatcher;
using OptimizelySDK.Logger;

namespace BulkDispatch.Producer.Optimizely;

/// <summary>
/// An Optimizely SDK event dispatcher that hands each <see cref="LogEvent"/> to a <see cref="SqsEventPublisher"/>:
/// returns in microseconds, never throws, never waits on I/O. The SDK's <c>GetParamsAsJson()</c> body is passed on
/// unchanged (never re-serialized), with the URL, verb and headers.
/// </summary>
public sealed class SqsEventDispatcher : IEventDispatcher, IAsyncDisposable
{
    private readonly SqsEventPublisher _publisher;
    private readonly bool _ownsPublisher;
    private ILogger _logger = new NoOpLogger();

    /// <summary>A dispatcher with its own publisher (AWS credentials from the default AWS chain).</summary>
    public SqsEventDispatcher(ProducerOptions options)
        : this(new SqsEventPublisher(options), ownsPublisher: true)
    {
    }

    /// <summary>A dispatcher over a publisher you own (it is not disposed with the dispatcher).</summary>
    public SqsEventDispatcher(SqsEventPublisher publisher)
        : this(publisher, ownsPublisher: false)
    {
    }

    private SqsEventDispatcher(SqsEventPublisher publisher, bool ownsPublisher)
    {
        _publisher = publisher ?? throw new ArgumentNullException(nameof(publisher));
        _ownsPublisher = ownsPublisher;
        _publisher.WarningSink = message => _logger.Log(LogLevel.WARN, message);
    }

    /// <summary>The SDK's logger; receives the warnings the publisher raises (drops, refusals).</summary>
    public ILogger Logger
    {
        get => _logger;
        set => _logger = value ?? new NoOpLogger();
    }

    /// <summary>Queues the event for SQS; an event that cannot be queued is counted and logged, never thrown.</summary>
    public void DispatchEvent(LogEvent logEvent)
    {
        if (logEvent is null)
        {
            return;
        }

        string body;
        try
        {
            body = logEvent.GetParamsAsJson();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _logger.Log(LogLevel.ERROR, "BulkDispatch: the event's body could not be produced: " + ex.Message);
            return;
        }

        _publisher.TryPublish(logEvent.Url, logEvent.HttpVerb, logEvent.Headers ?? new Dictionary<string, string>(), body);
    }

    /// <summary>Sends what is buffered (when the dispatcher owns its publisher).</summary>
    public ValueTask DisposeAsync() => _ownsPublisher ? _publisher.DisposeAsync() : default;
}
