namespace BulkDispatch.Producer.Buffering;

/// <summary>
/// The events and body bytes the publisher holds, and the bound on both. An event is held from its reservation in
/// <c>TryPublish</c> until it is settled (sent, dropped or refused): not only while it waits in the channel, but also in
/// the batch the pump is filling and in a send that retries for as long as SQS is unreachable. Every release wakes the
/// callers waiting for room (<see cref="OverflowPolicy.Block"/>). Thread-safe; lock-free unless a caller waits.
/// </summary>
internal sealed class BufferAccounting(int maxEvents, long maxBytes, TimeProvider time)
{
    private readonly object _gate = new();
    private long _events;
    private long _bytes;
    private int _waiters;
    private bool _closed;

    /// <summary>Events held now.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>Body bytes held now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Callers waiting for room now.</summary>
    public int Waiters => Volatile.Read(ref _waiters);

    /// <summary>Holds one event of <paramref name="bytes"/> body bytes if both bounds allow it; false (nothing held) otherwise.</summary>
    public bool TryReserve(int bytes)
    {
        // Compare-and-swap, not add-then-undo: a caller that does not fit never inflates the counts, so it cannot
        // make another caller (one that would fit) fail in the meantime.
        if (!TryAdd(ref _bytes, bytes, maxBytes))
        {
            return false;
        }

        if (TryAdd(ref _events, 1, maxEvents))
        {
            return true;
        }

        Interlocked.Add(ref _bytes, -bytes);
        return false;
    }

    /// <summary>
    /// Like <see cref="TryReserve(int)"/>, but waits up to <paramref name="wait"/> (on the accounting's clock)
    /// for a release to make room. Returns false when the wait ends without room or the accounting is closed.
    /// </summary>
    public bool TryReserve(int bytes, TimeSpan wait) => TryReserve(bytes) || (wait > TimeSpan.Zero && WaitAndReserve(bytes, wait));

    /// <summary>Gives back what a reservation or a batch of settled events held, and wakes the callers waiting for room.</summary>
    public void Release(long bytes, long events)
    {
        Interlocked.Add(ref _bytes, -bytes);
        Interlocked.Add(ref _events, -events);
        if (Volatile.Read(ref _waiters) > 0)
        {
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Forgets everything held (the publisher is gone) and returns how many events that was.</summary>
    public long ReleaseAll()
    {
        Interlocked.Exchange(ref _bytes, 0);
        return Interlocked.Exchange(ref _events, 0);
    }

    /// <summary>Ends every wait now and every later one at once (the publisher is being disposed).</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            Monitor.PulseAll(_gate);
        }
    }

    private bool WaitAndReserve(int bytes, TimeSpan wait)
    {
        bool expired = false;
        lock (_gate)
        {
            // The timer exists before this caller counts as a waiter: whoever sees it waiting can also see it expire.
            using var timer = time.CreateTimer(
                _ =>
                {
                    lock (_gate)
                    {
                        expired = true;
                        Monitor.PulseAll(_gate);
                    }
                },
                null,
                wait,
                Timeout.InfiniteTimeSpan);
            Interlocked.Increment(ref _waiters);
            try
            {
                // Counted as a waiter before looking again: a release from now on either leaves room for this look, or
                // sees the waiter and pulses once this thread waits (the lock is held until Monitor.Wait).
                while (!TryReserve(bytes))
                {
                    if (expired || _closed)
                    {
                        return false;
                    }

                    Monitor.Wait(_gate);
                }

                return true;
            }
            finally
            {
                Interlocked.Decrement(ref _waiters);
            }
        }
    }

    private static bool TryAdd(ref long counter, long amount, long max)
    {
        long current = Volatile.Read(ref counter);
        while (true)
        {
            if (current + amount > max)
            {
                return false;
            }

            long seen = Interlocked.CompareExchange(ref counter, current + amount, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }
}
