using System.Text.Json;
using BulkDispatch.Cli.Commands;
using BulkDispatch.Flush.Reporting;

namespace BulkDispatch.UnitTests.Cli;

/// <summary>The JSON the CLI prints (<c>flush --json</c>; stats, redrive and demo use the same options).</summary>
public sealed class ReportJsonTests
{
    private static FlushReport Report(string? lastFailure = null, IReadOnlyList<PlannedRequest>? planned = null) =>
        FlushReport.NotStarted("run-1", new DateTimeOffset(2026, 11, 28, 9, 30, 0, TimeSpan.FromHours(1)), TimeSpan.FromSeconds(2), lastFailure ?? "none")
        with
        {
            PlannedRequests = planned ?? [],
        };

    [Fact]
    public void The_report_writes_punctuation_and_non_ascii_text_as_they_are()
    {
        string json = FlushCommand.ToJson(Report("Zürich <eu> & 'quoted'", [new PlannedRequest("https://logx.optimizely.com/v1/events?a=1&b=2", "1+2", 1, 10, true)]));

        Assert.Contains("\"startedAt\": \"2026-11-28T09:30:00+01:00\"", json, StringComparison.Ordinal);
        Assert.Contains("Zürich <eu> & 'quoted'", json, StringComparison.Ordinal);
        Assert.Contains("?a=1&b=2", json, StringComparison.Ordinal);
        Assert.Contains("\"1+2\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u00", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u002B", json, StringComparison.Ordinal);
    }

    [Fact]
    public void The_report_still_escapes_every_control_character_from_queue_data()
    {
        const string hostile = "a\r\nb\0c\u0007d\u001be\u007ff\u0085g\u009bh\u2028i\u2029j\"k\\l";

        string json = FlushCommand.ToJson(Report(hostile, [new PlannedRequest("https://logx.optimizely.com/v1/events", hostile, 1, 10, true)]));

        Assert.DoesNotContain(json, c => char.IsControl(c) && c is not ('\n' or '\r'));
        Assert.DoesNotContain('\u2028', json);
        Assert.DoesNotContain('\u2029', json);
        // Line breaks are only the indentation's: every line is a whole JSON member or bracket.
        Assert.All(json.Split(Environment.NewLine), line => Assert.DoesNotContain('\r', line));
        Assert.All(json.Split(Environment.NewLine), line => Assert.DoesNotContain('\n', line));
        using var parsed = JsonDocument.Parse(json);
        Assert.Equal(hostile, parsed.RootElement.GetProperty("lastFailure").GetString());
        Assert.Equal(hostile, parsed.RootElement.GetProperty("plannedRequests")[0].GetProperty("accountId").GetString());
    }
}
