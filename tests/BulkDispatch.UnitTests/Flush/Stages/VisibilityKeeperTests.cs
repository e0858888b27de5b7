using System.Collections.Concurrent;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Engine.Stages;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>Held messages keep their lease while the run outlasts the queue's visibility timeout; abandoned ones do not.</summary>
public sealed class VisibilityKeeperTests
{
    private const int Visibility = 30;
    private readonly FakeTimeProvider _time = new();
    private readonly LedgerKit _kit = new();
    private readonly RecordingVisibility _queue = new();
    private readonly long _start;

    public VisibilityKeeperTests() => _start = _time.GetTimestamp();

    [Fact]
    public async Task A_lease_within_half_the_visibility_timeout_of_its_end_is_extended_and_a_later_one_is_not()
    {
        var soon = _kit.Admit("soon", LeaseIn(TimeSpan.FromSeconds(20)));
        var later = _kit.Admit("later", LeaseIn(TimeSpan.FromSeconds(30)));
        _time.Advance(TimeSpan.FromSeconds(6)); // soon: 14 s left (< 15); later: 24 s left

        await Keeper().ExtendDueAsync(CancellationToken.None);

        var call = Assert.Single(_queue.Calls);
        Assert.Equal([soon.ReceiptHandle], call.Handles);
        Assert.Equal(Visibility, call.Seconds);
        Assert.Equal(LeaseIn(TimeSpan.FromSeconds(6 + Visibility)), soon.LeaseUntil); // from the time of the call
        Assert.Equal(LeaseIn(TimeSpan.FromSeconds(30)), later.LeaseUntil);
    }

    [Fact]
    public async Task Leases_are_extended_ten_handles_per_call()
    {
        for (int i = 0; i < 23; i++)
        {
            _kit.Admit($"m{i}", LeaseIn(TimeSpan.FromSeconds(1)));
        }

        await Keeper().ExtendDueAsync(CancellationToken.None);

        Assert.Equal([10, 10, 3], _queue.Calls.Select(c => c.Handles.Count).Order().Reverse());
    }

    [Fact]
    public async Task An_abandoned_message_is_left_to_time_out()
    {
        var message = _kit.Admit("abandoned", LeaseIn(TimeSpan.FromSeconds(1)));
        _kit.Ledger.Expect(message, 1);
        _kit.Ledger.Abandon(message); // the decoding is still pending, so the ledger still holds it

        await Keeper().ExtendDueAsync(CancellationToken.None);

        Assert.Empty(_queue.Calls);
    }

    [Fact]
    public async Task An_extension_SQS_refused_keeps_the_old_lease_so_the_next_look_tries_again()
    {
        var message = _kit.Admit("refused", LeaseIn(TimeSpan.FromSeconds(5)));
        long before = message.LeaseUntil;
        _queue.Refuse = true;

        await Keeper().ExtendDueAsync(CancellationToken.None);

        Assert.Single(_queue.Calls);
        Assert.Equal(before, message.LeaseUntil);
    }

    [Fact]
    public async Task While_it_runs_it_looks_again_and_again_and_it_ends_when_told()
    {
        var keeper = Keeper();
        Assert.Equal(TimeSpan.FromSeconds(Visibility / 4.0), keeper.Period);
        var message = _kit.Admit("held", LeaseIn(TimeSpan.FromSeconds(Visibility)));
        using var stop = new CancellationTokenSource();
        var running = keeper.RunAsync(stop.Token);

        // Outcome only, not timing: while the clock goes on, the lease keeps being renewed.
        for (int i = 0; i < 2_000 && _queue.Calls.Count < 3; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(running, Task.Delay(2));
        }

        Assert.True(_queue.Calls.Count >= 3, $"{_queue.Calls.Count} extensions");
        Assert.All(_queue.Calls, c => Assert.Equal([message.ReceiptHandle], c.Handles));
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private VisibilityKeeper Keeper() => new(_queue, _kit.Ledger, Visibility, _time, StageKit.Log, StageKit.RunId);

    private long LeaseIn(TimeSpan fromStart) => _start + (long)(fromStart.TotalSeconds * _time.TimestampFrequency);

    private sealed class RecordingVisibility : IVisibilityChanger
    {
        public ConcurrentQueue<(List<string> Handles, int Seconds)> Calls { get; } = new();

        public bool Refuse { get; set; }

        public Task<IReadOnlyList<EntryResult>> ChangeVisibilityAsync(IReadOnlyList<string> receiptHandles, int visibilitySeconds, CancellationToken cancellationToken)
        {
            Calls.Enqueue(([.. receiptHandles], visibilitySeconds));
            return Task.FromResult<IReadOnlyList<EntryResult>>(receiptHandles.Select(_ => Refuse ? EntryResult.Failed("ReceiptHandleIsInvalid", "expired") : EntryResult.Done).ToArray());
        }
    }
}
