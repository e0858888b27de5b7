using BulkDispatch.Producer.Buffering;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Producer.Diagnostics;

/// <summary>
/// The publisher's warnings, as structured log records (category <c>BulkDispatch.Producer</c>). Drops and each kind of
/// refusal are throttled to one record per <c>DropWarningInterval</c> that counts what happened since the last one;
/// drops are only counted on the caller's thread and reported by the pump. Every warning but the send retries is also
/// handed to <see cref="Sink"/>, as its text. Thread-safe.
/// </summary>
internal sealed partial class ProducerWarnings
{
    // One throttle slot for drops, then one per refusal kind (Error is the last).
    private const int DropsSlot = 0;
    private const int Slots = 2 + (int)RefusalKind.Error;

    private readonly ILogger _log;
    private readonly WarningForwarder _warnings;
    private readonly ProducerOptions _options;
    private readonly WarningThrottle _throttle;

    public ProducerWarnings(ILogger logger, ProducerOptions options, TimeProvider time)
    {
        _log = logger;
        _warnings = new WarningForwarder(logger);
        _options = options;
        _throttle = new WarningThrottle(time, options.DropWarningInterval, Slots);
    }

    /// <summary>Also receives the text of each drop, refusal and setup warning (e.g. for the Optimizely SDK's logger).</summary>
    public Action<string>? Sink
    {
        get => _warnings.Sink;
        set => _warnings.Sink = value;
    }

    /// <summary>Counts dropped events toward the next drop warning (no log record here: this runs on the caller's thread).</summary>
    public void Dropped(long events) => _throttle.Count(DropsSlot, events);

    /// <summary>Logs the drops counted since the last drop warning, unless one was logged within the interval (or <paramref name="force"/>).</summary>
    public void WarnAboutDrops(bool force)
    {
        if (_throttle.TryTake(DropsSlot, force, out long dropped))
        {
            LogDropped(_warnings, dropped, _options.BufferCapacity, _options.BufferBytes);
        }
    }

    public void RefusedMissing()
    {
        if (Due(RefusalKind.Missing, 1, out long earlier))
        {
            LogRefusedMissing(_warnings, earlier);
        }
    }

    public void RefusedTooLarge(int eventBytes, int maxMessageBytes)
    {
        if (Due(RefusalKind.TooLarge, 1, out long earlier))
        {
            LogRefusedTooLarge(_warnings, eventBytes, maxMessageBytes, earlier);
        }
    }

    public void RefusedInvalidJson(string url, string error)
    {
        if (Due(RefusalKind.InvalidJson, 1, out long earlier))
        {
            LogRefusedInvalidJson(_warnings, url, error, earlier);
        }
    }

    public void RefusedBySqs(int events, int messageBytes, string? errorCode, string? errorMessage)
    {
        if (Due(RefusalKind.RejectedBySqs, events, out long earlier))
        {
            LogRefusedBySqs(_warnings, messageBytes, events, errorCode, errorMessage, earlier);
        }
    }

    public void RefusedOnError(string error)
    {
        if (Due(RefusalKind.Error, 1, out long earlier))
        {
            LogRefusedOnError(_warnings, error, earlier);
        }
    }

    public void DisposeDeadline(long dropped) => LogDisposeDeadline(_warnings, dropped, _options.DisposeTimeout);

    public void MaxMessageSizeUnreadable(string errorCode, int maxMessageBytes) => LogMaxMessageSizeUnreadable(_warnings, errorCode, maxMessageBytes);

    /// <summary>A failed send about to be retried: logged on the 1st, 6th, 21st and every 100th attempt, not forwarded to the sink.</summary>
    public void SendRetrying(Exception? exception, int attempt, TimeSpan delay)
    {
        if (attempt is 0 or 5 or 20 || attempt % 100 == 0)
        {
            LogSendRetrying(_log, exception, attempt + 1, delay);
        }
    }

    /// <summary>Counts <paramref name="events"/> refusals of <paramref name="kind"/>; true when a warning is due, with the refusals since the last one.</summary>
    private bool Due(RefusalKind kind, long events, out long earlier)
    {
        int slot = 1 + (int)kind;
        _throttle.Count(slot, events);
        bool due = _throttle.TryTake(slot, force: false, out long counted);
        earlier = Math.Max(0, counted - events);
        return due;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "BulkDispatch producer: dropped {Dropped} events since the last warning because the buffer was full " +
        "(BufferCapacity {BufferCapacity} events, BufferBytes {BufferBytes}) or the publisher was disposed; SQS may be unreachable or slower than the event rate.")]
    private static partial void LogDropped(ILogger logger, long dropped, int bufferCapacity, long bufferBytes);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "BulkDispatch producer: an event without a URL or a body was refused " +
        "({Earlier} more were refused for this reason since the last warning).")]
    private static partial void LogRefusedMissing(ILogger logger, long earlier);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "BulkDispatch producer: an event of {EventBytes} bytes was refused: it is larger than the largest message " +
        "the queue accepts ({MaxMessageBytes} bytes) ({Earlier} more were refused for this reason since the last warning).")]
    private static partial void LogRefusedTooLarge(ILogger logger, int eventBytes, int maxMessageBytes, long earlier);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "BulkDispatch producer: an event for {Url} was refused: its body is not valid JSON ({Error}) " +
        "({Earlier} more were refused for this reason since the last warning).")]
    private static partial void LogRefusedInvalidJson(ILogger logger, string url, string error, long earlier);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "BulkDispatch producer: SQS refused a message of {MessageBytes} bytes holding {Events} events " +
        "({ErrorCode}: {ErrorMessage}) ({Earlier} more events were refused for this reason since the last warning).")]
    private static partial void LogRefusedBySqs(ILogger logger, int messageBytes, int events, string? errorCode, string? errorMessage, long earlier);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "BulkDispatch producer: an event was refused: {Error} " +
        "({Earlier} more were refused for this reason since the last warning).")]
    private static partial void LogRefusedOnError(ILogger logger, string error, long earlier);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "BulkDispatch producer: {Dropped} buffered events could not be sent within DisposeTimeout ({DisposeTimeout}) and are dropped.")]
    private static partial void LogDisposeDeadline(ILogger logger, long dropped, TimeSpan disposeTimeout);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "BulkDispatch producer: the queue's MaximumMessageSize could not be read ({ErrorCode}); writing messages " +
        "of at most {MaxMessageBytes} bytes. Set BulkDispatch__Producer__MaxMessageBytes to skip the lookup.")]
    private static partial void LogMaxMessageSizeUnreadable(ILogger logger, string errorCode, int maxMessageBytes);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "BulkDispatch producer: sending to SQS failed (attempt {Attempt}); retrying in {Delay}. Events stay buffered.")]
    private static partial void LogSendRetrying(ILogger logger, Exception? exception, int attempt, TimeSpan delay);

    /// <summary>Logs through to the publisher's logger and hands each warning's text to <see cref="Sink"/> too.</summary>
    private sealed class WarningForwarder(ILogger inner) : ILogger
    {
        private volatile Action<string>? _sink;

        public Action<string>? Sink
        {
            get => _sink;
            set => _sink = value;
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel) || (logLevel >= LogLevel.Warning && _sink is not null);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }

            if (logLevel >= LogLevel.Warning && _sink is { } sink)
            {
                try
                {
                    sink(formatter(state, exception));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // The sink is the application's (e.g. the SDK's logger): its failure must not stop the pump or reach TryPublish's caller.
                }
            }
        }
    }
}
