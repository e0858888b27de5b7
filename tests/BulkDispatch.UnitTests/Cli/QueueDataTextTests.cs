using BulkDispatch.Cli.Commands;
using BulkDispatch.QueueOperations.Redrive;
using BulkDispatch.QueueOperations.Statistics;
using BulkDispatch.Flush.Reporting;

namespace BulkDispatch.UnitTests.Cli;

/// <summary>
/// The text the CLI prints quotes queue data (a dry run's URL and account id, dead-letter reasons read back from
/// the attribute) with its control characters escaped, so none of it can start a line of its own (issue 14).
/// </summary>
public sealed class QueueDataTextTests
{
    private const string Hostile = "x\r\nFORGED: all good\0\u0085\u2028";
    private const string Escaped = @"x\r\nFORGED: all good\0\u0085\u2028";

    [Fact]
    public void A_dry_run_report_quotes_the_URL_and_account_id_escaped()
    {
        var report = FlushReport.NotStarted("run-1", DateTimeOffset.UnixEpoch, TimeSpan.Zero, "none") with
        {
            PlannedRequests = [new PlannedRequest("https://logx.optimizely.com/v1/events" + Hostile, Hostile, 1, 10, true)],
        };

        string text = report.ToText();

        AssertEveryLineClean(text);
        Assert.Contains($"to https://logx.optimizely.com/v1/events{Escaped} (account {Escaped})", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Stats_prints_a_reason_read_back_from_the_dead_letter_queue_escaped()
    {
        var queue = new QueueStatistics { Name = "events", Url = "http://sqs/000000000000/events" };
        var dlq = new QueueStatistics
        {
            Name = "events-dlq",
            Url = "http://sqs/000000000000/events-dlq",
            Visible = 3,
            Reasons = new ReasonSample { Examined = 3, Sample = false, Limit = 100, Counts = new Dictionary<string, long>(StringComparer.Ordinal) { [Hostile] = 2, ["undecodable"] = 1 } },
        };

        string text = StatsCommand.ToText(new QueueOverview(queue, dlq, DeadLetterQueueSource.Setting));

        AssertEveryLineClean(text);
        Assert.Contains($"  {Escaped}  ", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Redrive_prints_reasons_and_failures_escaped()
    {
        var result = new RedriveResult
        {
            Method = "receive-send-delete",
            DryRun = false,
            QueueUrl = "http://sqs/000000000000/events",
            DeadLetterQueueUrl = "http://sqs/000000000000/events-dlq",
            Reasons = [],
            Moved = 1,
            Skipped = 1,
            Failed = 1,
            MovedByReason = new Dictionary<string, long>(StringComparer.Ordinal) { [Hostile] = 1 },
            SkippedByReason = new Dictionary<string, long>(StringComparer.Ordinal) { [Hostile] = 1 },
            Failures = [new RedriveFailure("m-1", Hostile, "SendMessageBatch did not take it (InvalidParameterValue): " + Hostile)],
        };

        string text = RedriveCommand.ToText(result);

        AssertEveryLineClean(text);
        Assert.Contains($"Moved 1 ({Escaped} 1)", text, StringComparison.Ordinal);
        Assert.Contains($"  m-1 [{Escaped}]: SendMessageBatch did not take it (InvalidParameterValue): {Escaped}", text, StringComparison.Ordinal);
    }

    private static void AssertEveryLineClean(string text) =>
        Assert.All(text.Split(Environment.NewLine), line => Assert.DoesNotContain(line, c => char.IsControl(c) || c is '\u2028' or '\u2029'));
}
