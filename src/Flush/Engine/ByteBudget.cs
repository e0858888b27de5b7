namespace BulkDispatch.Flush.Engine;

/// <summary>
/// Counts the bytes of received messages still held in memory; receivers wait for room before
/// asking SQS for more, which keeps the flush's memory bounded whatever the backlog.
/// </summary>
internal sealed class ByteBudget(long limit)
{
    private readonly Lock _gate = new();
    private long _used;
    private TaskCompletionSource? _room;

    public long Limit => limit;

    public long Used
    {
        get
        {
            lock (_gate)
            {
                return _used;
            }
        }
    }

    public void Take(long bytes)
    {
        lock (_gate)
        {
            _used += bytes;
        }
    }

    public void Return(long bytes)
    {
        TaskCompletionSource? room = null;
        lock (_gate)
        {
            _used -= bytes;
            if (_used < limit)
            {
                room = _room;
                _room = null;
            }
        }

        room?.TrySetResult();
    }

    /// <summary>
    /// Takes room for up to <paramref name="maxUnits"/> units of <paramref name="unitBytes"/> (at least one, so a
    /// budget smaller than one unit still makes progress) and returns how many it took.
    /// </summary>
    public int Reserve(long unitBytes, int maxUnits)
    {
        lock (_gate)
        {
            int units = (int)Math.Clamp((limit - _used) / Math.Max(unitBytes, 1), 1, maxUnits);
            _used += units * unitBytes;
            return units;
        }
    }

    public Task WaitForRoomAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_used < limit)
            {
                return Task.CompletedTask;
            }

            _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _room.Task.WaitAsync(cancellationToken);
        }
    }
}
