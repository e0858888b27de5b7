using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BulkDispatch.Core;
using BulkDispatch.Cli.Queues;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.QueueOperations.Statistics;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.Cli.Commands;

/// <summary>
/// <c>bulkdispatch stats</c>: counts and settings of the queue and its dead-letter queue, and the dead-letter reasons,
/// without consuming anything. Parses the options, asks <see cref="QueueInspector"/>, prints.
/// </summary>
internal static class StatsCommand
{
    private static readonly Option<int> Sample = new("--sample")
    {
        Description = "Examine at most this many dead-letter messages to count their reasons (1 to 1000000). The output says when the counts are a sample.",
        DefaultValueFactory = _ => QueueInspector.DefaultReasonSampleLimit,
    };

    public static Command Create()
    {
        var command = new Command("stats", """
            Show the queue's and the dead-letter queue's visible, in-flight and delayed messages, retention,
            visibility timeout, maximum message size and redrive policy, and count the dead-lettered messages
            by reason (the BulkDispatch.Reason attribute; "none" for messages SQS moved after maxReceiveCount).
            Nothing is consumed: dead-letter messages are peeked with a visibility timeout of 0.

            Examples:
              bulkdispatch stats --settings local.settings.json
              bulkdispatch stats --json --sample 50000
              BulkDispatch__Sqs__QueueUrl=https://sqs.us-west-2.amazonaws.com/123456789012/event-queue bulkdispatch stats

            Exit codes: 0 shown, 2 bad configuration (or a queue that does not exist), 3 unexpected error.
            """)
        {
            CommonOptions.SettingsFile, CommonOptions.Set, CommonOptions.Json, CommonOptions.Verbose, Sample,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        int sample = parse.GetValue(Sample);
        if (sample is < 1 or > QueueInspector.MaxReasonSampleLimit)
        {
            await Console.Error.WriteLineAsync($"--sample: {sample.ToString(CultureInfo.InvariantCulture)} is outside 1 to 1000000. Example: --sample 10000.");
            return ExitCodes.BadConfiguration;
        }

        try
        {
            await using var services = QueueCommandServices.Build(parse);
            var overview = await services.GetRequiredService<QueueInspector>().InspectAsync(sample, cancellationToken);
            Console.Out.Write(parse.GetValue(CommonOptions.Json)
                ? JsonSerializer.Serialize(overview, FlushCommand.ReportJson) + Environment.NewLine
                : ToText(overview));
            return ExitCodes.Complete;
        }
        catch (Exception ex) when (ex is BulkDispatchConfigurationException or SettingsFileException)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync("Fix the settings above and run again (see README: Settings).");
            return ExitCodes.BadConfiguration;
        }
        catch (SqsRequestFailedException ex)
        {
            await Console.Error.WriteLineAsync($"bulkdispatch stats: {ex.Message}");
            return ExitCodes.Failed;
        }
    }

    /// <summary>The human-readable table.</summary>
    internal static string ToText(QueueOverview overview)
    {
        var (queue, dlq) = (overview.Queue, overview.DeadLetterQueue);
        var text = new StringBuilder();
        var columns = dlq is null ? new[] { queue } : new[] { queue, dlq };
        var rows = new List<(string Label, Func<QueueStatistics, string> Value)>
        {
            ("", q => q == queue ? "queue" : "dead-letter queue"),
            ("name", q => q.Name),
            ("visible", q => N(q.Visible)),
            ("in flight", q => N(q.InFlight)),
            ("delayed", q => N(q.Delayed)),
            ("retention", q => q.RetentionSeconds is { } s ? Duration(s) : "?"),
            ("visibility timeout", q => q.VisibilityTimeoutSeconds is { } s ? Duration(s) : "?"),
            ("max message size", q => q.MaximumMessageSize is { } b ? $"{N(b)} bytes ({N(b / 1024)} KiB)" : "?"),
            ("redrive policy", q => q.RedrivePolicy is { } p
                ? $"to {ArnName(p.DeadLetterTargetArn)} after {(p.MaxReceiveCount is { } n ? N(n) : "?")} receives"
                : "none"),
        };
        int labelWidth = rows.Max(r => r.Label.Length) + 2;
        int valueWidth = rows.Max(r => r.Value(queue).Length) + 3;
        foreach (var (label, value) in rows)
        {
            text.Append(label.PadRight(labelWidth));
            for (int i = 0; i < columns.Length; i++)
            {
                string v = value(columns[i]);
                text.Append(i + 1 < columns.Length ? v.PadRight(valueWidth) : v);
            }

            text.AppendLine();
        }

        text.AppendLine();
        if (dlq is null)
        {
            text.AppendLine("No dead-letter queue: set BulkDispatch__Sqs__DeadLetterQueueUrl or give the queue a RedrivePolicy.");
            return text.ToString();
        }

        string source = overview.DeadLetterQueueSource == DeadLetterQueueSource.Setting ? "BulkDispatch__Sqs__DeadLetterQueueUrl" : "the queue's RedrivePolicy target";
        text.AppendLine(CultureInfo.InvariantCulture, $"Dead-letter queue: {dlq.Url} ({source}).");
        var r = dlq.Reasons!;
        if (r.Examined == 0)
        {
            text.AppendLine(dlq.Total == 0 ? "No dead-lettered messages." : $"No dead-lettered message could be examined ({N(dlq.InFlight)} in flight, {N(dlq.Delayed)} delayed).");
            return text.ToString();
        }

        text.AppendLine(r.Sample
            ? $"Dead-letter reasons, a SAMPLE of {N(r.Examined)} of about {N(dlq.Total)} messages (--sample {N(r.Limit)}; in-flight and delayed messages cannot be examined):"
            : $"Dead-letter reasons, all {N(r.Examined)} messages:");
        // A reason is read back from an attribute anyone who can send to the dead-letter queue could have written.
        int reasonWidth = r.Counts.Keys.Max(k => LogText.Escape(k).Length) + 2;
        foreach (var (reason, count) in r.Counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {LogText.Escape(reason).PadRight(reasonWidth)}{N(count),10}");
        }

        return text.ToString();
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string ArnName(string? arn) => arn is null ? "?" : arn[(arn.LastIndexOf(':') + 1)..];

    private static string Duration(long seconds)
    {
        var t = TimeSpan.FromSeconds(seconds);
        string human = seconds switch
        {
            >= 86_400 when seconds % 86_400 == 0 => $"{t.TotalDays:0} days",
            >= 3_600 when seconds % 3_600 == 0 => $"{t.TotalHours:0} h",
            >= 60 when seconds % 60 == 0 => $"{t.TotalMinutes:0} min",
            _ => "",
        };
        string raw = $"{N(seconds)} s";
        return human.Length == 0 ? raw : string.Create(CultureInfo.InvariantCulture, $"{human} ({raw})");
    }
}
