using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BulkDispatch.Core;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Cli.Queues;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.QueueOperations;
using BulkDispatch.QueueOperations.Redrive;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.Cli.Commands;

/// <summary>
/// <c>bulkdispatch redrive</c>: moves dead-lettered messages back to the queue once the cause is fixed. Parses the
/// options, asks <see cref="DeadLetterRedriver"/> (progress on standard error), prints the result.
/// </summary>
internal static class RedriveCommand
{
    private static readonly Option<string[]> Reason = new("--reason")
    {
        Description = "Move only messages with this dead-letter reason (repeatable), e.g. endpoint-not-allowed; \"none\" for messages without one. Others stay in the dead-letter queue, visible.",
        AllowMultipleArgumentsPerToken = false,
    };

    private static readonly Option<long?> Max = new("--max")
    {
        Description = "Move at most this many messages.",
    };

    private static readonly Option<bool> DryRun = new("--dry-run")
    {
        Description = "Count what would move (peeking, visibility timeout 0); move nothing.",
    };

    public static Command Create()
    {
        var command = new Command("redrive", """
            Move dead-lettered messages back to the queue after the cause is fixed (a new allow-list entry, the
            legacy settings, a newer flush): all of them, or only those with the given --reason. Each message is
            moved once: sent to the queue, then deleted from the dead-letter queue only if the send succeeded;
            any that could not be moved stay in the dead-letter queue and are listed. The body is sent unchanged,
            without the BulkDispatch.Reason/Detail attributes. Messages whose reason does not match are made
            visible again at once. Without --reason and --max, SQS's own message-move task is used where the
            endpoint supports it (it keeps the attributes; the flush ignores them); otherwise, and always with a
            filter, receive-send-delete. Progress goes to standard error; the summary to standard output.

            Examples:
              bulkdispatch stats --settings local.settings.json
              bulkdispatch redrive --settings local.settings.json --reason endpoint-not-allowed --dry-run
              bulkdispatch redrive --settings local.settings.json --reason endpoint-not-allowed --reason unknown-version
              bulkdispatch redrive --max 1000 --json

            Exit codes: 0 everything selected was moved, 1 some messages could not be moved (listed) or the run
            was stopped, 2 bad configuration (nothing moved), 3 unexpected error.
            """)
        {
            CommonOptions.SettingsFile, CommonOptions.Set, CommonOptions.Json, CommonOptions.Verbose, Reason, Max, DryRun,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        bool json = parse.GetValue(CommonOptions.Json);
        long? max = parse.GetValue(Max);
        if (max is < 1)
        {
            await Console.Error.WriteLineAsync($"--max: {max.Value.ToString(CultureInfo.InvariantCulture)} is not a positive number. Example: --max 1000.");
            return ExitCodes.BadConfiguration;
        }

        var reasons = new HashSet<string>(StringComparer.Ordinal);
        foreach (var value in parse.GetValue(Reason) ?? [])
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                await Console.Error.WriteLineAsync("--reason: give a reason code, e.g. --reason endpoint-not-allowed.");
                return ExitCodes.BadConfiguration;
            }

            string reason = value.Trim();
            if (!DeadLetterReasons.Known.Contains(reason, StringComparer.Ordinal))
            {
                await Console.Error.WriteLineAsync($"--reason '{reason}' is not a reason code this version writes ({string.Join(", ", DeadLetterReasons.Known)}); only messages with exactly that code will move.");
            }

            reasons.Add(reason);
        }

        try
        {
            await using var services = QueueCommandServices.Build(parse);
            var progress = new ProgressLine();
            var options = new RedriveOptions
            {
                Reasons = reasons,
                Max = max,
                DryRun = parse.GetValue(DryRun),
                Progress = p => progress.Show(p.ToString()),
                Notes = progress.Note,
            };
            var result = await services.GetRequiredService<DeadLetterRedriver>().RedriveAsync(options, cancellationToken);
            progress.Done();
            Console.Out.Write(json ? JsonSerializer.Serialize(result, FlushCommand.ReportJson) + Environment.NewLine : ToText(result));
            return result.Complete ? ExitCodes.Complete : ExitCodes.Incomplete;
        }
        catch (Exception ex) when (ex is BulkDispatchConfigurationException or SettingsFileException)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync("Nothing was moved. Fix the settings above and run again (see README: Settings).");
            return ExitCodes.BadConfiguration;
        }
        catch (SqsRequestFailedException ex)
        {
            await Console.Error.WriteLineAsync($"bulkdispatch redrive: {ex.Message} Batches already sent were deleted from the dead-letter queue; the rest stay there. Run redrive again.");
            return ExitCodes.Failed;
        }
    }

    /// <summary>The summary printed without <c>--json</c>.</summary>
    internal static string ToText(RedriveResult r)
    {
        var text = new StringBuilder();
        string filter = r.Reasons.Count == 0 ? "all reasons" : "reason " + string.Join(" or ", r.Reasons.Select(reason => LogText.Escape(reason)));
        string limit = r.Max is { } max ? $", at most {N(max)}" : "";
        text.AppendLine(CultureInfo.InvariantCulture, $"Redrive from {r.DeadLetterQueueUrl} to {r.QueueUrl} ({filter}{limit}).");
        text.AppendLine(CultureInfo.InvariantCulture, $"Method: {r.Method}{(r.MethodNote is { Length: > 0 } note ? " (" + note + ")" : "")}.");
        if (r.DryRun)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Dry run: would move {N(r.WouldMove)}{ByReason(r.MovedByReason)}; {N(r.Skipped)} would stay because the reason does not match{ByReason(r.SkippedByReason)}. Nothing was moved.");
            if (r.Sample)
            {
                text.AppendLine("These counts are a sample: not every dead-letter message could be examined (in flight, delayed, or over the scan limit).");
            }

            return text.ToString();
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"Moved {N(r.Moved)}{ByReason(r.MovedByReason)}, skipped {N(r.Skipped)} because the reason did not match{ByReason(r.SkippedByReason)}, failed {N(r.Failed + r.SentButNotDeleted)}.");
        if (r.SentButNotDeleted > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{N(r.SentButNotDeleted)} were sent to the queue but could not be deleted from the dead-letter queue: they are in both (a second delivery is harmless: Optimizely de-duplicates by uuid).");
        }

        if (r.Failures.Count > 0)
        {
            text.AppendLine("Not moved (still in the dead-letter queue):");
            foreach (var f in r.Failures)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  {f.MessageId} [{LogText.Escape(f.Reason)}]: {LogText.Escape(f.Error, 500)}");
            }
        }

        if (r.Cancelled)
        {
            text.AppendLine("Stopped before the dead-letter queue was done; run redrive again for the rest.");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"Took {r.Duration.TotalSeconds:0.0} s.");
        return text.ToString();
    }

    private static string ByReason(IReadOnlyDictionary<string, long> counts) =>
        counts.Count == 0 ? "" : " (" + string.Join(", ", counts.Select(p => $"{LogText.Escape(p.Key)} {N(p.Value)}")) + ")";

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
