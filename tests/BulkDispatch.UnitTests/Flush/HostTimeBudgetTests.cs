using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Hosting;

namespace BulkDispatch.UnitTests.Flush;

/// <summary>A Functions run must end on its own deadline before the host's functionTimeout.</summary>
public sealed class HostTimeBudgetTests
{
    [Fact]
    public void The_shipped_host_json_leaves_the_default_run_inside_its_timeout()
    {
        string hostJson = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "host.json"));
        var timeout = HostTimeBudget.ReadFunctionTimeout(null, hostJson);
        var flush = new FlushOptions();

        Assert.NotNull(timeout);
        var budget = HostTimeBudget.ReceiveBudget(timeout, flush) ?? flush.MaxDuration;
        Assert.True(budget + flush.SendGrace + HostTimeBudget.Margin <= timeout, $"{budget} + {flush.SendGrace} does not fit in {timeout}");
    }

    [Theory]
    [InlineData("{ \"version\": \"2.0\", \"functionTimeout\": \"00:10:00\" }", 600)]
    [InlineData("{ // comment\n \"functionTimeout\": \"00:02:30\", }", 150)]
    [InlineData("{ \"version\": \"2.0\" }", 300)]
    [InlineData("", 300)]
    public void Reads_functionTimeout_or_assumes_the_Consumption_default(string hostJson, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), HostTimeBudget.ReadFunctionTimeout(null, hostJson));
    }

    [Fact]
    public void The_app_setting_override_wins_and_minus_one_means_unbounded()
    {
        Assert.Equal(TimeSpan.FromMinutes(30), HostTimeBudget.ReadFunctionTimeout("00:30:00", "{ \"functionTimeout\": \"00:05:00\" }"));
        Assert.Null(HostTimeBudget.ReadFunctionTimeout(null, "{ \"functionTimeout\": \"-1\" }"));
        Assert.Null(HostTimeBudget.ReceiveBudget(null, new FlushOptions()));
    }

    [Fact]
    public void A_short_timeout_shortens_receiving_and_a_long_one_keeps_MaxDuration()
    {
        var flush = new FlushOptions { MaxDuration = TimeSpan.FromMinutes(4), SendGrace = TimeSpan.FromSeconds(45) };

        Assert.Equal(TimeSpan.FromMinutes(3) - HostTimeBudget.Margin - flush.SendGrace, HostTimeBudget.ReceiveBudget(TimeSpan.FromMinutes(3), flush));
        Assert.Null(HostTimeBudget.ReceiveBudget(TimeSpan.FromMinutes(10), flush));
    }

    [Fact]
    public void A_timeout_that_leaves_no_time_to_receive_names_both_settings()
    {
        var error = Assert.Throws<BulkDispatchConfigurationException>(() =>
            HostTimeBudget.ReceiveBudget(TimeSpan.FromSeconds(60), new FlushOptions { SendGrace = TimeSpan.FromSeconds(45) }));

        Assert.Contains("functionTimeout", error.Message, StringComparison.Ordinal);
        Assert.Contains("BulkDispatch__Flush__SendGrace", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("five minutes")]
    [InlineData("00:00:00")]
    public void A_malformed_timeout_says_how_to_write_one(string value)
    {
        var error = Assert.Throws<BulkDispatchConfigurationException>(() => HostTimeBudget.ReadFunctionTimeout(value, null));
        Assert.Contains(HostTimeBudget.FunctionTimeoutOverride, error.Message, StringComparison.Ordinal);
        Assert.Contains("hh:mm:ss", error.Message, StringComparison.Ordinal);
    }
}
