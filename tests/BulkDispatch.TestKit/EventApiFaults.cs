using BulkDispatch.Sandbox;
using Microsoft.AspNetCore.Http;

namespace BulkDispatch.TestKit;

/// <summary>
/// Fault injection for <see cref="LocalEventApi"/>: queued faults for the next requests, then a policy consulted for
/// each request; <see langword="null"/> from both means Optimizely's normal 204.
/// </summary>
internal sealed class EventApiFaults : IEventApiResponder
{
    private readonly Lock _gate = new();
    private readonly Queue<EventApiFault> _queued = new();

    /// <summary>
    /// Consulted for each schema-valid request after the <see cref="FailNext"/> faults are used up;
    /// <see langword="null"/> (or a policy returning it) means the normal 204.
    /// </summary>
    public Func<EventApiRequest, EventApiFault?>? Policy { get; set; }

    /// <summary>Makes <paramref name="api"/> answer through new faults, and returns them.</summary>
    public static EventApiFaults InjectInto(LocalEventApi api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var faults = new EventApiFaults();
        api.Responder = faults;
        return faults;
    }

    /// <summary>Queues faults for the next requests: each schema-valid request takes the next one, before <see cref="Policy"/>.</summary>
    public void FailNext(params EventApiFault[] faults)
    {
        ArgumentNullException.ThrowIfNull(faults);
        lock (_gate)
        {
            foreach (var fault in faults)
            {
                ArgumentNullException.ThrowIfNull(fault);
                _queued.Enqueue(fault);
            }
        }
    }

    /// <summary>Forgets queued faults (the policy stays).</summary>
    public void ClearQueued()
    {
        lock (_gate)
        {
            _queued.Clear();
        }
    }

    public async Task RespondAsync(EventApiExchange exchange)
    {
        EventApiFault? fault;
        try
        {
            fault = NextQueued() ?? Policy?.Invoke(exchange.Request);
        }
        catch (Exception ex)
        {
            // A broken policy is a test bug; make it loud in the answer instead of a bare 500.
            await exchange.AnswerAsync(StatusCodes.Status500InternalServerError, "The fault policy threw: " + ex);
            return;
        }

        await ApplyAsync(exchange, fault);
    }

    private static async Task ApplyAsync(EventApiExchange exchange, EventApiFault? fault)
    {
        switch (fault?.Kind)
        {
            case null:
                await exchange.AnswerAsync(StatusCodes.Status204NoContent);
                break;
            case EventApiFaultKind.Status:
                await exchange.AnswerAsync(fault.StatusCode, fault.Body, fault.RetryAfterSeconds);
                break;
            case EventApiFaultKind.Delay:
                try
                {
                    await Task.Delay(fault.DelayDuration, exchange.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    exchange.ClientGaveUp();
                    return;
                }

                await ApplyAsync(exchange, fault.Then);
                break;
            case EventApiFaultKind.DropConnection:
                exchange.DropConnection();
                break;
            default:
                throw new InvalidOperationException($"Unknown fault kind {fault.Kind}.");
        }
    }

    private EventApiFault? NextQueued()
    {
        lock (_gate)
        {
            return _queued.TryDequeue(out var fault) ? fault : null;
        }
    }
}
