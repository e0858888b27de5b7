using BulkDispatch.Producer;
using BulkDispatch.Producer.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Producer;

/// <summary>Drop and refusal warnings: structured, at most one per DropWarningInterval per kind, nothing lost from the counts.</summary>
public sealed class ProducerWarningsTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly RecordingLogger _log = new();
    private readonly ProducerWarnings _warnings;

    public ProducerWarningsTests() =>
        _warnings = new ProducerWarnings(_log, new ProducerOptions { DropWarningInterval = Interval, BufferCapacity = 500, BufferBytes = 2 << 20 }, _time);

    [Fact]
    public void Drops_are_reported_once_per_interval_with_every_drop_counted_exactly_once()
    {
        _warnings.Dropped(3);
        _warnings.WarnAboutDrops(force: false);
        _warnings.Dropped(4);
        _warnings.Dropped(5);
        _time.Advance(Interval - TimeSpan.FromTicks(1));
        _warnings.WarnAboutDrops(force: false); // within the interval: nothing
        Assert.Equal([3L], Values(_log.Records, "Dropped"));

        _time.Advance(TimeSpan.FromTicks(1));
        _warnings.WarnAboutDrops(force: false);
        _warnings.WarnAboutDrops(force: false); // nothing new: no record
        _warnings.Dropped(1);
        _warnings.WarnAboutDrops(force: true); // the pump's last word ignores the interval

        Assert.Equal([3L, 9L, 1L], Values(_log.Records, "Dropped"));
        var record = _log.Records[0];
        Assert.Equal((LogLevel.Warning, 1), (record.Level, record.EventId));
        Assert.Equal(500, record.Property("BufferCapacity"));
        Assert.Equal(2L << 20, record.Property("BufferBytes"));
        Assert.Contains("dropped 3 events since the last warning", record.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void No_drop_no_drop_warning()
    {
        _warnings.WarnAboutDrops(force: false);
        _warnings.WarnAboutDrops(force: true);

        Assert.Empty(_log.Records);
    }

    [Fact]
    public void A_flood_of_refusals_is_one_record_per_interval_that_counts_the_ones_in_between()
    {
        for (int i = 0; i < 1_000; i++)
        {
            _warnings.RefusedTooLarge(300_000 + i, 262_144);
        }

        _time.Advance(Interval);
        _warnings.RefusedTooLarge(400_000, 262_144);

        Assert.Equal(2, _log.Records.Count);
        Assert.Equal((300_000, 262_144, 0L), (_log.Records[0].Property("EventBytes"), _log.Records[0].Property("MaxMessageBytes"), _log.Records[0].Property("Earlier")));
        Assert.Equal((400_000, 999L), (_log.Records[1].Property("EventBytes"), _log.Records[1].Property("Earlier")));
        Assert.Contains("an event of 400000 bytes was refused", _log.Records[1].Text, StringComparison.Ordinal);
        Assert.Contains("999 more were refused for this reason since the last warning", _log.Records[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_kind_of_refusal_has_its_own_interval()
    {
        _warnings.RefusedMissing();
        _warnings.RefusedInvalidJson("https://logx.optimizely.com/v1/events", "'n' is an invalid start of a value.");
        _warnings.RefusedBySqs(3, 2048, "InvalidParameterValue", "Message must be shorter than 1024 bytes.");
        _warnings.RefusedOnError("boom");
        _warnings.RefusedMissing();
        _warnings.RefusedBySqs(2, 1024, "InvalidParameterValue", "Message must be shorter than 1024 bytes.");

        Assert.Equal([2, 4, 5, 6], _log.Records.Select(r => r.EventId).ToArray());
        var sqs = _log.Records[2];
        Assert.Equal((2048, 3, "InvalidParameterValue"), (sqs.Property("MessageBytes"), sqs.Property("Events"), sqs.Property("ErrorCode")));
        Assert.Contains("Message must be shorter than 1024 bytes.", sqs.Text, StringComparison.Ordinal);

        _time.Advance(Interval);
        _warnings.RefusedBySqs(1, 1500, "InvalidParameterValue", "again");
        Assert.Equal(2L, _log.Records[^1].Property("Earlier")); // the two events of the suppressed refusal
    }

    [Fact]
    public void The_sink_gets_each_warning_s_text_and_a_failing_sink_changes_nothing()
    {
        var texts = new List<string>();
        _warnings.Sink = texts.Add;
        _warnings.RefusedMissing();
        _warnings.Dropped(2);
        _warnings.WarnAboutDrops(force: false);
        _warnings.SendRetrying(new TimeoutException(), 0, TimeSpan.FromSeconds(1)); // logged, not forwarded (as before)

        Assert.Equal(_log.Records.Take(2).Select(r => r.Text), texts);
        Assert.Equal(3, _log.Records.Count);

        _warnings.Sink = _ => throw new InvalidOperationException("the application's logger is broken");
        _warnings.DisposeDeadline(7);
        Assert.Equal(7L, _log.Records[^1].Property("Dropped"));
    }

    [Fact]
    public void Send_retries_are_logged_on_the_first_sixth_twenty_first_and_every_hundredth_attempt()
    {
        for (int attempt = 0; attempt < 301; attempt++)
        {
            _warnings.SendRetrying(null, attempt, TimeSpan.FromSeconds(1));
        }

        Assert.Equal([1, 6, 21, 101, 201, 301], _log.Records.Select(r => (int)r.Property("Attempt")!).ToArray());
    }

    private static long[] Values(IEnumerable<Record> records, string property) => [.. records.Select(r => (long)r.Property(property)!)];

    private sealed record Record(LogLevel Level, int EventId, string Text, IReadOnlyList<KeyValuePair<string, object?>> State)
    {
        public object? Property(string name) => State.Single(p => p.Key == name).Value;
    }

    private sealed class RecordingLogger : ILogger
    {
        public List<Record> Records { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Records.Add(new Record(logLevel, eventId.Id, formatter(state, exception), state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));
    }
}
