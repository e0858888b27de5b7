using BulkDispatch.Flush.Engine;

namespace BulkDispatch.UnitTests.Flush;

/// <summary>Receives reserve their worst case from the flush's memory budget before asking SQS.</summary>
public sealed class ByteBudgetTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void Reserves_as_many_whole_messages_as_fit_and_at_most_the_batch()
    {
        var budget = new ByteBudget(25 * MiB);

        Assert.Equal(10, budget.Reserve(MiB, 10));
        Assert.Equal(10, budget.Reserve(MiB, 10));
        Assert.Equal(5, budget.Reserve(MiB, 10));
        Assert.Equal(25 * MiB, budget.Used);
    }

    [Fact]
    public void A_full_budget_still_lets_one_message_through_so_a_run_never_stalls()
    {
        var budget = new ByteBudget(MiB / 2);

        Assert.Equal(1, budget.Reserve(MiB, 10));
        Assert.Equal(1, budget.Reserve(MiB, 10));
        Assert.Equal(2 * MiB, budget.Used);
    }

    [Fact]
    public async Task Returning_a_reservation_wakes_a_waiting_receive()
    {
        var budget = new ByteBudget(10 * MiB);
        int units = budget.Reserve(MiB, 10);
        var waiting = budget.WaitForRoomAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        budget.Return(units * MiB);

        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, budget.Used);
    }
}
