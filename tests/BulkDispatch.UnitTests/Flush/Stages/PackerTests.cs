using System.Threading.Channels;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Packing;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>The packer lets a request fill up for <c>BatchLinger</c>, but never lets a full memory budget stall the receivers.</summary>
public sealed class PackerTests
{
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();
    private readonly RunCounters _counters = StageKit.Counters();

    [Fact]
    public async Task A_request_that_does_not_fill_up_goes_out_after_BatchLinger_and_not_before()
    {
        var kit = new LedgerKit();
        using var deadlines = StageKit.Deadlines(_time);
        var (input, output, running) = Start(kit, deadlines);
        long start = _time.GetTimestamp();
        await input.Writer.WriteAsync(await DecodeAsync(kit, StageKit.Message(StageKit.Batch("a"))));

        var request = await LingerUntilSentAsync(output);

        Assert.NotNull(request);
        Assert.True(_time.GetElapsedTime(start) >= Linger, $"sent after {_time.GetElapsedTime(start)}");
        input.Writer.Complete();
        await running.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task When_the_memory_budget_is_full_every_open_request_goes_out_at_once()
    {
        var kit = new LedgerKit(budgetBytes: 100); // one message fills it
        using var deadlines = StageKit.Deadlines(_time);
        var (input, output, running) = Start(kit, deadlines);

        await input.Writer.WriteAsync(await DecodeAsync(kit, StageKit.Message(StageKit.Batch("a"))));

        // No time passes: only the full budget can close the request.
        var request = await output.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Single(request.Visitors);
        input.Writer.Complete();
        await running.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task What_receives_in_progress_reserved_does_not_count_as_a_full_budget()
    {
        var kit = new LedgerKit(budgetBytes: 100_000);
        using var deadlines = StageKit.Deadlines(_time);
        var (input, output, running) = Start(kit, deadlines);
        long start = _time.GetTimestamp();
        await input.Writer.WriteAsync(await DecodeAsync(kit, StageKit.Message(StageKit.Batch("a"))));
        kit.Budget.Reserve(100_000, 1); // a long poll holds the rest of the budget while it waits

        // Closing every request whenever the budget was in use to its limit sent them a third full in the benchmark:
        // this one still waits for BatchLinger.
        var request = await LingerUntilSentAsync(output);

        Assert.NotNull(request);
        Assert.True(_time.GetElapsedTime(start) >= Linger, $"sent after {_time.GetElapsedTime(start)}");
        input.Writer.Complete();
        await running.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task When_the_input_completes_every_open_request_goes_out_and_the_output_completes()
    {
        var kit = new LedgerKit();
        using var deadlines = StageKit.Deadlines(_time);
        var (input, output, running) = Start(kit, deadlines);
        await input.Writer.WriteAsync(await DecodeAsync(kit, StageKit.Message(StageKit.Batch("a", "b"))));
        await input.Writer.WriteAsync(await DecodeAsync(kit, StageKit.Message(StageKit.Batch("c"))));

        input.Writer.Complete();
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        var request = Assert.Single(StageKit.Drain(output.Reader));
        Assert.Equal(3, request.Visitors.Count);
        Assert.True(output.Reader.Completion.IsCompleted);
    }

    private (Channel<DecodedMessage> Input, Channel<PackedRequest<EventTracker>> Output, Task Running) Start(LedgerKit kit, RunDeadlines deadlines)
    {
        var input = Channel.CreateUnbounded<DecodedMessage>();
        var output = Channel.CreateUnbounded<PackedRequest<EventTracker>>();
        var packer = new Packer(3_000_000, Linger, kit.Budget, kit.Ledger, deadlines, _counters, _time, StageKit.Log, StageKit.RunId);
        return (input, output, Task.Run(() => packer.RunAsync(input.Reader, output.Writer)));
    }

    private async Task<DecodedMessage> DecodeAsync(LedgerKit kit, string body)
    {
        var input = Channel.CreateUnbounded<InFlightMessage>();
        input.Writer.TryWrite(kit.Admit(body));
        input.Writer.Complete();
        var output = Channel.CreateUnbounded<DecodedMessage>();
        await new Admission(StageKit.Rules(), kit.Ledger, _counters, StageKit.Log, StageKit.RunId).RunAsync(input.Reader, output.Writer, Channel.CreateUnbounded<DeadLetter>().Writer);
        return Assert.Single(StageKit.Drain(output.Reader));
    }

    /// <summary>Moves the clock on a quarter second at a time until the packer sends a request (null if it never does).</summary>
    private async Task<PackedRequest<EventTracker>?> LingerUntilSentAsync(Channel<PackedRequest<EventTracker>> output)
    {
        PackedRequest<EventTracker>? request = null;
        for (int i = 0; i < 1_000 && !output.Reader.TryRead(out request); i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(2);
        }

        return request;
    }
}
