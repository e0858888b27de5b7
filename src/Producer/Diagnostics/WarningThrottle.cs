namespace BulkDispatch.Producer.Diagnostics;

/// <summary>
/// At most one warning per interval for each kind of trouble, with what happened in between counted into it: a flood
/// of bad events or drops must not flood the log (or the caller's thread). Counting is one atomic add; deciding whether
/// to warn takes a lock per kind. Thread-safe.
/// </summary>
internal sealed class WarningThrottle
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Slot[] _slots;

    public WarningThrottle(TimeProvider time, TimeSpan interval, int kinds)
    {
        _time = time;
        _interval = interval;
        _slots = [.. Enumerable.Range(0, kinds).Select(_ => new Slot())];
    }

    /// <summary>Counts <paramref name="events"/> toward the next warning of <paramref name="kind"/>.</summary>
    public void Count(int kind, long events) => Interlocked.Add(ref _slots[kind].Pending, events);

    /// <summary>
    /// True when a warning of <paramref name="kind"/> is due: something was counted, and no warning of that kind was
    /// given within the interval (or <paramref name="force"/>). Then <paramref name="events"/> is everything counted
    /// since the last one, and the count starts again.
    /// </summary>
    public bool TryTake(int kind, bool force, out long events)
    {
        var slot = _slots[kind];
        lock (slot)
        {
            long now = _time.GetTimestamp();
            events = 0;
            if (!force && slot.Warned && _time.GetElapsedTime(slot.LastWarning, now) < _interval)
            {
                return false;
            }

            events = Interlocked.Exchange(ref slot.Pending, 0);
            if (events == 0)
            {
                return false;
            }

            slot.Warned = true;
            slot.LastWarning = now;
            return true;
        }
    }

    private sealed class Slot
    {
        public long Pending; // a field, for Interlocked

        public bool Warned { get; set; }

        public long LastWarning { get; set; }
    }
}
