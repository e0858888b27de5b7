using BulkDispatch.Producer.Buffering;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Producer;

/// <summary>The publisher's bound on events and bytes held, and the wait of <c>OverflowPolicy.Block</c>.</summary>
public sealed class BufferAccountingTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void The_event_bound_refuses_the_event_past_it_and_holds_nothing_for_it()
    {
        var buffer = new BufferAccounting(maxEvents: 3, maxBytes: 1_000, _time);

        Assert.Equal([true, true, true, false], Enumerable.Range(0, 4).Select(_ => buffer.TryReserve(10)).ToArray());
        Assert.Equal((3L, 30L), (buffer.Events, buffer.Bytes));
    }

    [Fact]
    public void The_byte_bound_refuses_an_event_that_does_not_fit_but_takes_a_smaller_one()
    {
        var buffer = new BufferAccounting(maxEvents: 100, maxBytes: 1_000, _time);

        Assert.True(buffer.TryReserve(900));
        Assert.False(buffer.TryReserve(101));
        Assert.Equal((1L, 900L), (buffer.Events, buffer.Bytes));
        Assert.True(buffer.TryReserve(100));
        Assert.Equal((2L, 1_000L), (buffer.Events, buffer.Bytes));
    }

    [Fact]
    public void Released_events_and_bytes_make_room_again()
    {
        var buffer = new BufferAccounting(maxEvents: 2, maxBytes: 1_000, _time);
        Assert.True(buffer.TryReserve(400));
        Assert.True(buffer.TryReserve(400));
        Assert.False(buffer.TryReserve(1));

        buffer.Release(800, 2); // a message of two events was sent

        Assert.Equal((0L, 0L), (buffer.Events, buffer.Bytes));
        Assert.True(buffer.TryReserve(1_000));
    }

    [Fact]
    public void Concurrent_reservations_never_exceed_either_bound()
    {
        var buffer = new BufferAccounting(maxEvents: 1_000, maxBytes: 50_000, _time);
        long accepted = 0;
        Parallel.For(0, 8, worker =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                if (buffer.TryReserve(1 + ((worker + i) % 97)))
                {
                    Interlocked.Increment(ref accepted);
                }

                Assert.InRange(buffer.Events, 0, 1_000);
                Assert.InRange(buffer.Bytes, 0, 50_000);
            }
        });

        Assert.Equal(accepted, buffer.Events);
        Assert.True(buffer.Events == 1_000 || buffer.Bytes > 50_000 - 97, $"the buffer stopped taking events before it was full: {buffer.Events} events, {buffer.Bytes} bytes");
    }

    [Fact]
    public async Task A_blocked_caller_wakes_when_a_release_makes_room_without_any_time_passing()
    {
        var buffer = new BufferAccounting(maxEvents: 1, maxBytes: 1_000, _time);
        Assert.True(buffer.TryReserve(10));

        var waiting = Task.Factory.StartNew(() => buffer.TryReserve(10, TimeSpan.FromMinutes(1)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        WaitUntilWaiting(buffer, 1);
        Assert.False(waiting.IsCompleted);

        buffer.Release(10, 1); // the fake clock never moves: only the release's signal can wake the caller

        Assert.True(await waiting.WaitAsync(Guard));
        Assert.Equal((1L, 10L, 0), (buffer.Events, buffer.Bytes, buffer.Waiters));
    }

    [Fact]
    public async Task A_blocked_caller_gives_up_when_its_wait_ends_and_holds_nothing()
    {
        var buffer = new BufferAccounting(maxEvents: 1, maxBytes: 1_000, _time);
        Assert.True(buffer.TryReserve(10));

        var waiting = Task.Factory.StartNew(() => buffer.TryReserve(10, TimeSpan.FromMilliseconds(100)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        WaitUntilWaiting(buffer, 1);
        _time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(waiting.IsCompleted, "the wait ended before BlockTimeout");

        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.False(await waiting.WaitAsync(Guard));
        Assert.Equal((1L, 10L, 0), (buffer.Events, buffer.Bytes, buffer.Waiters));
    }

    [Fact]
    public async Task Each_release_lets_as_many_blocked_callers_in_as_it_made_room_for()
    {
        var buffer = new BufferAccounting(maxEvents: 2, maxBytes: 1_000, _time);
        Assert.True(buffer.TryReserve(10));
        Assert.True(buffer.TryReserve(10));
        var waiting = Enumerable.Range(0, 3)
            .Select(_ => Task.Factory.StartNew(() => buffer.TryReserve(10, TimeSpan.FromMinutes(1)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToList();
        WaitUntilWaiting(buffer, 3);

        buffer.Release(10, 1);
        WaitUntil(() => waiting.Count(t => t.IsCompleted) == 1 && buffer.Waiters == 2);
        buffer.Release(10, 1);
        WaitUntil(() => waiting.Count(t => t.IsCompleted) == 2 && buffer.Waiters == 1);
        Assert.Equal(2L, buffer.Events);

        _time.Advance(TimeSpan.FromMinutes(1));
        var results = await Task.WhenAll(waiting).WaitAsync(Guard);
        Assert.Equal(2, results.Count(r => r));
        Assert.Equal((2L, 0), (buffer.Events, buffer.Waiters));
    }

    [Fact]
    public async Task Closing_ends_every_wait_at_once()
    {
        var buffer = new BufferAccounting(maxEvents: 1, maxBytes: 1_000, _time);
        Assert.True(buffer.TryReserve(10));
        var waiting = Task.Factory.StartNew(() => buffer.TryReserve(10, TimeSpan.FromMinutes(1)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        WaitUntilWaiting(buffer, 1);

        buffer.Close();

        Assert.False(await waiting.WaitAsync(Guard));
        Assert.False(buffer.TryReserve(10, TimeSpan.FromMinutes(1))); // full and closed: no wait at all
    }

    [Fact]
    public void Without_a_wait_a_full_buffer_refuses_at_once()
    {
        var buffer = new BufferAccounting(maxEvents: 1, maxBytes: 1_000, _time);
        Assert.True(buffer.TryReserve(10));

        Assert.False(buffer.TryReserve(10, TimeSpan.Zero));
        Assert.Equal(0, buffer.Waiters);
    }

    [Fact]
    public void ReleaseAll_forgets_everything_held_and_says_how_many_events()
    {
        var buffer = new BufferAccounting(maxEvents: 10, maxBytes: 1_000, _time);
        Assert.True(buffer.TryReserve(10));
        Assert.True(buffer.TryReserve(20));

        Assert.Equal(2, buffer.ReleaseAll());
        Assert.Equal((0L, 0L), (buffer.Events, buffer.Bytes));
    }

    /// <summary>Until the callers are inside the wait (its timer made): polls a counter, it does not sleep.</summary>
    private static void WaitUntilWaiting(BufferAccounting buffer, int waiters) => WaitUntil(() => buffer.Waiters == waiters);

    private static void WaitUntil(Func<bool> condition) =>
        Assert.True(SpinWait.SpinUntil(condition, Guard), "not reached within the guard time");
}
