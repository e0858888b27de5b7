using System.Collections.Concurrent;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;

namespace BulkDispatch.Soak;

/// <summary>
/// The Event API's misbehaviour for the soak, as a <see cref="EventApiFaults.Policy"/>: any request
/// holding a marked visitor is answered 400 naming those visitors (as Optimizely does for bad data, so
/// the flush must split and dead-letter exactly them); of the others a seeded share gets a transient
/// fault (500, 429 with Retry-After, a hang past the client's timeout, a dropped connection). It also
/// kills the armed flush process right after accepting one of its POSTs: Optimizely has the events,
/// the process never deletes their messages.
/// </summary>
/// <remarks>
/// Decisions come from one seeded sequence in arrival order; with concurrent requests the order, and so
/// which request gets which decision, can differ between runs with the same seed.
/// </remarks>
internal sealed class SoakFaults
{
    /// <summary>Names of the fault kinds, as counted in <see cref="Injected"/>.</summary>
    public const string Status500 = "500", TooMany429 = "429 Retry-After", Hang = "hang past timeout", Drop = "dropped connection", Reject400 = "400 marked visitor";

    private readonly Random _random;
    private readonly double _rate;
    private readonly TimeSpan _hang;
    private readonly Lock _gate = new();
    private FlushChild? _armed;
    private int _acceptsUntilKill;
    private int _requests;

    public SoakFaults(int seed, double rate, TimeSpan hang)
    {
        _random = new Random(seed);
        _rate = rate;
        _hang = hang;
    }

    /// <summary>Faults injected so far, by kind.</summary>
    public ConcurrentDictionary<string, int> Injected { get; } = new(StringComparer.Ordinal);

    /// <summary>Requests decided so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Kills <paramref name="child"/> right after the <paramref name="accepts"/>-th POST accepted from now on.</summary>
    public void ArmKill(FlushChild child, int accepts)
    {
        lock (_gate)
        {
            _armed = child;
            _acceptsUntilKill = accepts;
        }
    }

    /// <summary>Stops a kill armed for <paramref name="child"/> (it ended first).</summary>
    public void Disarm(FlushChild child)
    {
        lock (_gate)
        {
            if (_armed == child)
            {
                _armed = null;
            }
        }
    }

    /// <summary>The fault for one request, or <see langword="null"/> for the normal 204.</summary>
    public EventApiFault? Decide(EventApiRequest request)
    {
        Interlocked.Increment(ref _requests);
        var marked = request.VisitorIds.Where(SoakEvents.IsMarked).ToList();
        if (marked.Count > 0)
        {
            Count(Reject400);
            return EventApiFault.BadRequest("Rejected by the soak's Event API: marked visitor(s) " + string.Join(", ", marked));
        }

        lock (_gate)
        {
            double roll = _random.NextDouble();
            if (roll < _rate)
            {
                // Equal shares of the four transient kinds.
                switch ((int)(roll / _rate * 4))
                {
                    case 0:
                        Count(Status500);
                        return EventApiFault.Status(500, "soak: internal error");
                    case 1:
                        Count(TooMany429);
                        return EventApiFault.TooManyRequests(TimeSpan.FromSeconds(1));
                    case 2:
                        // Past the client's per-attempt timeout; should the client still be there, a 503.
                        Count(Hang);
                        return EventApiFault.Delay(_hang, EventApiFault.Status(503, "soak: hung"));
                    default:
                        Count(Drop);
                        return EventApiFault.DropConnection();
                }
            }

            if (_armed is { } child && --_acceptsUntilKill <= 0)
            {
                // Answered 204 only once the process is dead: the POST is accepted, the delete never comes.
                _armed = null;
                child.Kill(KillKind.BetweenPostAndDelete);
            }
        }

        return null;
    }

    private void Count(string kind) => Injected.AddOrUpdate(kind, 1, (_, n) => n + 1);
}
