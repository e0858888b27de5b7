using BulkDispatch.Sandbox;

namespace BulkDispatch.TestKit;

/// <summary>
/// How <see cref="LocalEventApi"/> should misbehave for one request instead of answering 204 (see <see cref="EventApiFaults"/>).
/// Made with the static factories.
/// </summary>
internal sealed record EventApiFault
{
    private EventApiFault(EventApiFaultKind kind)
    {
        Kind = kind;
    }

    /// <summary>What kind of misbehaviour this is.</summary>
    public EventApiFaultKind Kind { get; }

    /// <summary>The status code answered, for <see cref="EventApiFaultKind.Status"/>.</summary>
    public int StatusCode { get; private init; }

    /// <summary>The plain-text body answered, if any, for <see cref="EventApiFaultKind.Status"/>.</summary>
    public string? Body { get; private init; }

    /// <summary>The <c>Retry-After</c> header answered, if any, for <see cref="EventApiFaultKind.Status"/>.</summary>
    public TimeSpan? RetryAfter { get; private init; }

    /// <summary>How long to wait, for <see cref="EventApiFaultKind.Delay"/>.</summary>
    public TimeSpan DelayDuration { get; private init; }

    /// <summary>What to answer after the delay; <see langword="null"/> means the normal 204.</summary>
    public EventApiFault? Then { get; private init; }

    /// <summary>Answers <paramref name="code"/> with an optional plain-text body.</summary>
    public static EventApiFault Status(int code, string? body = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(code, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 599);
        return new EventApiFault(EventApiFaultKind.Status) { StatusCode = code, Body = body };
    }

    /// <summary>Answers 429 with <c>Retry-After</c> in whole seconds, rounded up.</summary>
    public static EventApiFault TooManyRequests(TimeSpan retryAfter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retryAfter, TimeSpan.Zero);
        return new EventApiFault(EventApiFaultKind.Status) { StatusCode = 429, RetryAfter = retryAfter };
    }

    /// <summary>Answers 400 with <paramref name="body"/>, as the real API does for a request it rejects.</summary>
    public static EventApiFault BadRequest(string body) => Status(400, body);

    /// <summary>
    /// Waits <paramref name="delay"/> (cut short if the client gives up), then answers
    /// <paramref name="then"/>, or 204 when it is <see langword="null"/>.
    /// </summary>
    public static EventApiFault Delay(TimeSpan delay, EventApiFault? then = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        return new EventApiFault(EventApiFaultKind.Delay) { DelayDuration = delay, Then = then };
    }

    /// <summary>Aborts the connection without answering.</summary>
    public static EventApiFault DropConnection() => new(EventApiFaultKind.DropConnection);

    /// <summary>The <c>Retry-After</c> value in whole seconds, rounded up, if there is one.</summary>
    internal long? RetryAfterSeconds => RetryAfter is { } value ? (long)Math.Ceiling(value.TotalSeconds) : null;
}

/// <summary>The kinds of <see cref="EventApiFault"/>.</summary>
internal enum EventApiFaultKind
{
    /// <summary>Answer a chosen status code (optionally with a body and <c>Retry-After</c>).</summary>
    Status,

    /// <summary>Wait, then answer.</summary>
    Delay,

    /// <summary>Abort the connection without answering.</summary>
    DropConnection,
}
