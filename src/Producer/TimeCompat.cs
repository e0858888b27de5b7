namespace BulkDispatch.Producer;

/// <summary>TimeProvider-aware waits on both targets (netstandard2.0 gets them from Microsoft.Bcl.TimeProvider).</summary>
internal static class TimeCompat
{
    public static Task Delay(TimeProvider time, TimeSpan delay, CancellationToken cancellationToken) =>
#if NETSTANDARD2_0
        time.Delay(delay, cancellationToken);
#else
        Task.Delay(delay, time, cancellationToken);
#endif

    public static CancellationTokenSource CancelAfter(TimeProvider time, TimeSpan delay) =>
#if NETSTANDARD2_0
        time.CreateCancellationTokenSource(delay);
#else
        new(delay, time);
#endif

    public static Task WaitAsync(Task task, CancellationToken cancellationToken) =>
#if NETSTANDARD2_0
        task.WaitAsync(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken);
#else
        task.WaitAsync(cancellationToken);
#endif
}
