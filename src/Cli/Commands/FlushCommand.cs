using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.SQS;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.Cli.Commands;

/// <summary><c>bulkdispatch flush</c>: one flush run, for any scheduler that can start a process.</summary>
internal static class FlushCommand
{
    private static readonly Option<bool> DryRun = new("--dry-run")
    {
        Description = "Receive, decode, group and pack, validate every body, print what would be sent; post nothing, delete nothing (messages become visible again at once).",
    };

    /// <summary>
    /// The options of every JSON the CLI prints (flush, stats, redrive, demo). The relaxed encoder writes
    /// non-ASCII text and punctuation such as <c>+</c>, <c>'</c>, <c>&lt;</c> as they are (the default encoder
    /// writes <c>\u002B</c>), and still escapes every control character (C0, DEL, C1, U+2028/U+2029), so
    /// queue data cannot break a line of it. Not for HTML.
    /// </summary>
    internal static readonly JsonSerializerOptions ReportJson = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    public static Command Create()
    {
        var command = new Command("flush", """
            Drain the event queue once into batched Optimizely Event API requests, delete what Optimizely
            accepted, dead-letter what it never will, and print a report.

            Examples:
              bulkdispatch flush --settings local.settings.json
              BulkDispatch__Sqs__QueueUrl=https://sqs.us-west-2.amazonaws.com/123456789012/event-queue bulkdispatch flush --json
              bulkdispatch flush --dry-run --set BulkDispatch__Flush__MaxDuration=00:00:30

            Exit codes: 0 complete (the queue was drained: everything received was delivered or dead-lettered),
            1 incomplete (not drained: a transient failure, MaxDuration, MaxMessagesPerRun, a cancel or a
            receive abandoned in flight left messages for the next run), 2 bad configuration (nothing received), 3 unexpected error.
            """)
        {
            CommonOptions.SettingsFile, CommonOptions.Set, CommonOptions.Json, CommonOptions.Verbose, DryRun,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        bool json = parse.GetValue(CommonOptions.Json);
        try
        {
            var configuration = Settings.Build(parse.GetValue(CommonOptions.SettingsFile), parse.GetValue(CommonOptions.Set) ?? []);
            await using var services = CommonOptions.BuildServices(configuration, parse.GetValue(CommonOptions.Verbose));
            var engine = services.GetRequiredService<FlushEngine>();
            // Settings first: making the SQS client reads them, and bad ones must exit 2 naming each one.
            engine.ThrowIfSettingsInvalid();
            // Only --json prints the counts; counting looks at every message body, so it is off otherwise.
            var sqsRequests = json ? SqsRequestCounter.Attach(services.GetRequiredKeyedService<IAmazonSQS>(FlushServiceCollectionExtensions.SqsServiceKey)) : null;
            var progress = new ProgressLine();
            var report = await engine.RunAsync(new FlushRunOptions { DryRun = parse.GetValue(DryRun), Progress = progress.Show }, cancellationToken);
            progress.Done();
            Console.Out.Write(sqsRequests is not null ? ToJson(report, sqsRequests) + Environment.NewLine : report.ToText());
            return report.Complete ? ExitCodes.Complete : ExitCodes.Incomplete;
        }
        catch (Exception ex) when (ex is BulkDispatchConfigurationException or SettingsFileException)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync("Nothing was received. Fix the settings above and run again (see README: Settings).");
            return ExitCodes.BadConfiguration;
        }
    }

    /// <summary>The report as the JSON <c>--json</c> prints.</summary>
    internal static string ToJson(FlushReport report) => JsonSerializer.Serialize(report, ReportJson);

    /// <summary>The report plus <c>sqsRequests</c>: this process's SQS requests and billed units by operation.</summary>
    private static string ToJson(FlushReport report, SqsRequestCounter sqsRequests)
    {
        var node = JsonSerializer.SerializeToNode(report, ReportJson)!.AsObject();
        node["sqsRequests"] = JsonSerializer.SerializeToNode(sqsRequests.Snapshot(), ReportJson);
        return node.ToJsonString(ReportJson);
    }
}
