using BulkDispatch.Cli.Serve;
using Microsoft.Extensions.Configuration;

namespace BulkDispatch.UnitTests.Cli;

/// <summary>The FlushSchedule setting: six-field NCRONTAB read as the Functions timer reads it, UTC unless a zone is named.</summary>
public sealed class FlushScheduleTests
{
    private static DateTimeOffset Utc(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.ToDictionary(v => v.Key, v => (string?)v.Value)).Build();

    [Fact]
    public void The_default_is_every_minute_on_the_minute_in_utc()
    {
        var schedule = FlushSchedule.FromConfiguration(Config());

        Assert.Equal("0 */1 * * * *", schedule.Expression);
        Assert.Equal(TimeZoneInfo.Utc, schedule.TimeZone);
        Assert.Equal(Utc("2026-01-01T00:01:00Z"), schedule.Next(Utc("2026-01-01T00:00:30Z")));
        Assert.Equal(Utc("2026-01-01T00:02:00Z"), schedule.Next(Utc("2026-01-01T00:01:00Z")));
    }

    [Fact]
    public void Next_is_strictly_after_the_given_instant_to_the_second()
    {
        var schedule = FlushSchedule.Parse("*/2 * * * * *");

        Assert.Equal(Utc("2026-01-01T00:00:02Z"), schedule.Next(Utc("2026-01-01T00:00:01.500Z")));
        Assert.Equal(Utc("2026-01-01T00:00:04Z"), schedule.Next(Utc("2026-01-01T00:00:02Z")));
        Assert.Equal(Utc("2026-01-01T00:00:04Z"), schedule.Next(Utc("2026-01-01T00:00:02.999Z")));
    }

    [Theory]
    [InlineData("*/5 * * * *", "'0 */5 * * * *'")]
    [InlineData("every minute", "is not a six-field NCRONTAB expression")]
    [InlineData("0 */1 * * * X", "is not a valid NCRONTAB expression")]
    [InlineData("61 * * * * *", "is not a valid NCRONTAB expression")]
    public void A_bad_schedule_is_named_with_an_example(string expression, string hint)
    {
        var ex = Assert.Throws<ServeConfigurationException>(() => FlushSchedule.FromConfiguration(Config(("FlushSchedule", expression))));

        var error = Assert.Single(ex.Errors);
        Assert.StartsWith("FlushSchedule: ", error, StringComparison.Ordinal);
        Assert.Contains(hint, error, StringComparison.Ordinal);
        Assert.Contains("Example: 0 */1 * * * *", error, StringComparison.Ordinal);
    }

    [Fact]
    public void WEBSITE_TIME_ZONE_wins_over_TZ_and_TZ_may_be_written_the_posix_way()
    {
        var both = FlushSchedule.FromConfiguration(Config(("WEBSITE_TIME_ZONE", "Asia/Tokyo"), ("TZ", "Europe/Berlin")));
        var tz = FlushSchedule.FromConfiguration(Config(("TZ", ":Europe/Berlin")));
        var path = FlushSchedule.FromConfiguration(Config(("TZ", "/usr/share/zoneinfo/America/New_York")));

        Assert.Equal("Asia/Tokyo", both.TimeZone.Id);
        Assert.Equal("WEBSITE_TIME_ZONE", both.TimeZoneSource);
        Assert.Equal("Europe/Berlin", tz.TimeZone.Id);
        Assert.Equal("TZ", tz.TimeZoneSource);
        Assert.Equal("America/New_York", path.TimeZone.Id);
    }

    [Theory]
    [InlineData("WEBSITE_TIME_ZONE")]
    [InlineData("TZ")]
    public void An_unknown_time_zone_is_named_with_an_example(string variable)
    {
        var ex = Assert.Throws<ServeConfigurationException>(() => FlushSchedule.FromConfiguration(Config((variable, "Mars/Olympus_Mons"))));

        var error = Assert.Single(ex.Errors);
        Assert.StartsWith(variable + ": 'Mars/Olympus_Mons'", error, StringComparison.Ordinal);
        Assert.Contains("Example: Europe/Berlin", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Wall_clock_times_are_read_in_the_named_zone()
    {
        var schedule = FlushSchedule.FromConfiguration(Config(("FlushSchedule", "0 30 9 * * *"), ("WEBSITE_TIME_ZONE", "Europe/Berlin")));

        Assert.Equal(Utc("2026-01-10T08:30:00Z"), schedule.Next(Utc("2026-01-10T00:00:00Z"))); // CET, +1
        Assert.Equal(Utc("2026-07-10T07:30:00Z"), schedule.Next(Utc("2026-07-10T00:00:00Z"))); // CEST, +2
    }

    [Fact]
    public void A_time_skipped_by_spring_forward_runs_just_after_the_gap()
    {
        // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
        var schedule = FlushSchedule.Parse("0 30 2 * * *", TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));

        Assert.Equal(Utc("2026-03-08T07:30:00Z"), schedule.Next(Utc("2026-03-08T05:00:00Z"))); // 03:30 EDT
        Assert.Equal(Utc("2026-03-09T06:30:00Z"), schedule.Next(Utc("2026-03-08T07:30:00Z"))); // 02:30 EDT next day
    }

    [Fact]
    public void Interval_schedules_keep_their_rhythm_through_the_hour_repeated_by_fall_back()
    {
        // New York, 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:00-01:59 happens twice.
        var schedule = FlushSchedule.Parse("0 */30 * * * *", TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));

        var ticks = new List<DateTimeOffset>();
        var t = Utc("2026-11-01T04:45:00Z"); // 00:45 EDT
        for (int i = 0; i < 6; i++)
        {
            t = schedule.Next(t);
            ticks.Add(t);
        }

        Assert.Equal(
            new[] { "05:00", "05:30", "06:00", "06:30", "07:00", "07:30" }.Select(s => Utc($"2026-11-01T{s}:00Z")),
            ticks);
    }

    [Fact]
    public void Point_in_time_schedules_run_once_in_the_hour_repeated_by_fall_back()
    {
        var schedule = FlushSchedule.Parse("0 30 1 * * *", TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));

        var first = schedule.Next(Utc("2026-10-31T12:00:00Z"));
        Assert.Equal(Utc("2026-11-01T05:30:00Z"), first); // 01:30 EDT, the first 01:30
        Assert.Equal(Utc("2026-11-02T06:30:00Z"), schedule.Next(first)); // not 01:30 EST the same night

        // Started during the repeated hour's second half: its 01:30 counts as done.
        Assert.Equal(Utc("2026-11-02T06:30:00Z"), schedule.Next(Utc("2026-11-01T06:10:00Z")));
    }
}
