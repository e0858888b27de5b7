using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.QueueOperations;

/// <summary>
/// A <see cref="FakeTimeProvider"/>'s time that says when code starts waiting on it (each timer it creates, e.g. a
/// <c>Task.Delay</c>), so a test moves the clock only once the code waits: every poll then sees exactly one step, however
/// slowly the machine runs the code between waits.
/// </summary>
internal sealed class WaitingClock(FakeTimeProvider time) : TimeProvider, IDisposable
{
    private readonly SemaphoreSlim _timerCreated = new(0);

    public override TimeZoneInfo LocalTimeZone => time.LocalTimeZone;

    public override long TimestampFrequency => time.TimestampFrequency;

    public override DateTimeOffset GetUtcNow() => time.GetUtcNow();

    public override long GetTimestamp() => time.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = time.CreateTimer(callback, state, dueTime, period);
        _timerCreated.Release();
        return timer;
    }

    /// <summary>Completes when a timer was created since the last call (a real-time bound guards against a hang).</summary>
    public Task<bool> TimerCreatedAsync() => _timerCreated.WaitAsync(TimeSpan.FromSeconds(30));

    public void Dispose() => _timerCreated.Dispose();
}
