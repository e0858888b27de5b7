using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace BulkDispatch.Sandbox;

/// <summary>
/// Decides how <see cref="LocalEventApi"/> answers a request whose body passed the schema check. The demo's answers
/// 204 (Optimizely's "accepted"); the tests' fault injection (tests/BulkDispatch.TestKit) plugs in here.
/// </summary>
public interface IEventApiResponder
{
    /// <summary>Answers (or deliberately does not answer) one request.</summary>
    Task RespondAsync(EventApiExchange exchange);
}

/// <summary>One request on its way through <see cref="LocalEventApi"/>: what came in, and the ways to answer it.</summary>
public sealed class EventApiExchange
{
    private readonly HttpContext _context;
    private readonly EventApiCounts _counts;

    internal EventApiExchange(HttpContext context, EventApiRequest request, EventApiCounts counts)
    {
        _context = context;
        _counts = counts;
        Request = request;
    }

    /// <summary>The request as recorded.</summary>
    public EventApiRequest Request { get; }

    /// <summary>Cancelled when the client gives up (its timeout or cancellation).</summary>
    public CancellationToken RequestAborted => _context.RequestAborted;

    /// <summary>Answers <paramref name="status"/>, with an optional plain-text body and <c>Retry-After</c> in seconds.</summary>
    public async Task AnswerAsync(int status, string? body = null, long? retryAfterSeconds = null)
    {
        // Recorded before the answer leaves, so a client holding the answer never sees Status = 0.
        Request.Status = status;
        _counts.Record(Request, status is >= 200 and < 300);
        var response = _context.Response;
        response.StatusCode = status;
        if (retryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        if (body is not null && status != StatusCodes.Status204NoContent)
        {
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync(body, _context.RequestAborted);
        }
    }

    /// <summary>Aborts the connection without answering.</summary>
    public void DropConnection()
    {
        Request.Status = EventApiRequest.NoAnswer;
        _context.Abort();
    }

    /// <summary>Records that no answer was sent because the client went away first.</summary>
    public void ClientGaveUp() => Request.Status = EventApiRequest.NoAnswer;
}

/// <summary>Optimizely's answer to a valid batch: 204 No Content.</summary>
internal sealed class AcceptingResponder : IEventApiResponder
{
    public static readonly AcceptingResponder Instance = new();

    public Task RespondAsync(EventApiExchange exchange) => exchange.AnswerAsync(StatusCodes.Status204NoContent);
}
