using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer;
using Microsoft.Extensions.Logging.Abstractions;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Sandbox;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.Cli.Commands;

/// <summary>
/// <c>bulkdispatch demo</c>: the whole product on this machine, no cloud account. Starts the SQS emulator
/// and a local Event API that validates every body, fills a queue, runs one flush, and prints what happened.
/// </summary>
internal static class DemoCommand
{
    private static readonly Option<int> Visitors = new("--visitors")
    {
        Description = "How many visitors to enqueue (1 to 10 per SDK event, several events per message).",
        DefaultValueFactory = _ => 5000,
    };

    private static readonly Option<bool> KeepRunning = new("--keep-running")
    {
        Description = "Fill the queue, then keep the emulator and the Event API running for another host (func start, serve, flush) until Ctrl+C, instead of flushing.",
    };

    private static readonly Option<int> SqsPort = new("--sqs-port")
    {
        Description = "The emulator's port with --keep-running (local.settings.sample.json uses 4566; 0: a free port).",
        DefaultValueFactory = _ => 4566,
    };

    private static readonly Option<int> ApiPort = new("--api-port")
    {
        Description = "The local Event API's port with --keep-running (local.settings.sample.json uses 5080; 0: a free port).",
        DefaultValueFactory = _ => 5080,
    };

    public static Command Create()
    {
        var command = new Command("demo", """
            Run the product end to end locally: start the fauxqs SQS emulator (installs it with npm if
            needed) and a local Optimizely Event API that validates every body against the EventBatch
            schema, fill a queue with realistic SDK events for two projects on the US and EU endpoints,
            run one flush into the local endpoint, and print what happened. Stops what it started.

            With --keep-running it fills the queue and waits instead of flushing, so another host can
            flush it: the Azure Functions app under `func start`, `serve` or `flush`, all configured by
            local.settings.sample.json (queue event-queue on port 4566, Event API on port 5080). It
            prints each delivery as the local Event API accepts it, and stops on Ctrl+C.

            Examples:
              bulkdispatch demo
              bulkdispatch demo --visitors 20000 --json
              bulkdispatch demo --keep-running
            """)
        {
            Visitors, KeepRunning, SqsPort, ApiPort, CommonOptions.Json, CommonOptions.Verbose,
        };
        command.SetAction((parse, cancellationToken) => ReportSetupProblemsAsync(() => parse.GetValue(KeepRunning)
            ? KeepRunningAsync(parse.GetValue(Visitors), parse.GetValue(SqsPort), parse.GetValue(ApiPort), cancellationToken)
            : RunAsync(parse.GetValue(Visitors), parse.GetValue(CommonOptions.Json), parse.GetValue(CommonOptions.Verbose), cancellationToken)));
        return command;
    }

    /// <summary>
    /// What stops the local stand-ins from starting is the user's to fix (install Node.js, free a port), so it is one
    /// line and exit 2; an install that failed (no access to the npm registry) is one line and exit 3.
    /// </summary>
    private static async Task<int> ReportSetupProblemsAsync(Func<Task<int>> run)
    {
        try
        {
            return await run();
        }
        catch (SandboxSetupException ex)
        {
            string hint = ex.Problem == SandboxSetupProblem.PortInUse ? " Stop what uses it, or pick another port: --sqs-port / --api-port (0: a free one)." : "";
            await Console.Error.WriteLineAsync("bulkdispatch demo: " + ex.Message + hint);
            return ex.Problem == SandboxSetupProblem.InstallFailed ? ExitCodes.Failed : ExitCodes.BadConfiguration;
        }
    }

    /// <summary>The emulator the demo starts: the copy shipped in the tool, installed per user on first use (progress on standard error).</summary>
    private static Task<SqsEmulator> StartEmulatorAsync(int port, CancellationToken cancellationToken) =>
        SqsEmulator.StartAsync(new SqsEmulatorOptions { Port = port, Progress = line => Console.Error.WriteLine(line) }, cancellationToken);

    /// <summary>
    /// The local stand-ins for another host: fills event-queue on the emulator, serves the Event API,
    /// and reports what arrives until cancelled (Ctrl+C / SIGTERM).
    /// </summary>
    private static async Task<int> KeepRunningAsync(int visitors, int sqsPort, int apiPort, CancellationToken cancellationToken)
    {
        if (visitors is < 1 or > 1_000_000 || sqsPort is < 0 or > 65535 || apiPort is < 0 or > 65535)
        {
            await Console.Error.WriteLineAsync("--visitors takes 1 to 1000000 and --sqs-port / --api-port 0 to 65535, e.g. --visitors 5000 --sqs-port 4566 --api-port 5080.");
            return ExitCodes.BadConfiguration;
        }

        await using var emulator = await StartEmulatorAsync(sqsPort, cancellationToken);
        await using var eventApi = await LocalEventApi.StartAsync(loggerFactory: null, apiPort, cancellationToken);
        using var sqs = emulator.CreateClient();
        var (queueUrl, dlqUrl) = await emulator.CreateQueueWithDeadLetterQueueAsync("event-queue", visibilityTimeoutSeconds: 300, ct: cancellationToken);
        var events = DemoEvents.Generate(visitors);
        var published = await PublishAsync(sqs, queueUrl, events, cancellationToken);

        var c = CultureInfo.InvariantCulture;
        Console.Out.WriteLine(string.Create(c, $"Published {visitors} visitors in {events.Count} SDK events ({published.Sent} sent) to {queueUrl}"));
        Console.Out.WriteLine("Settings for the host that flushes (as in local.settings.sample.json):");
        Console.Out.WriteLine($"  BulkDispatch__Sqs__QueueUrl={queueUrl}");
        Console.Out.WriteLine($"  BulkDispatch__Sqs__ServiceUrl={emulator.ServiceUrl}");
        Console.Out.WriteLine($"  BulkDispatch__Sqs__DeadLetterQueueUrl={dlqUrl}");
        Console.Out.WriteLine($"  BulkDispatch__Optimizely__EndpointOverride={eventApi.EventsUrl}");
        Console.Out.WriteLine("Waiting for a flush (func start, bulkdispatch serve or flush); Ctrl+C stops.");

        // Ctrl+C cancels the command's token; SIGTERM (a service manager, `kill`) must stop it as cleanly.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
        {
            signal.Cancel = true;
            stop.Cancel();
        });
        int seen = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop.Token))
            {
                var accepted = eventApi.AcceptedRequests;
                if (accepted.Count != seen)
                {
                    seen = accepted.Count;
                    Console.Out.WriteLine(string.Create(c,
                        $"Event API: {accepted.Count} requests accepted, {accepted.Sum(r => r.VisitorJson.Count)} of {visitors} visitors, {eventApi.SchemaFailures} schema failures"));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        var queue = await StatsAsync(sqs, queueUrl, CancellationToken.None);
        Console.Out.WriteLine(string.Create(c, $"Stopping. Queue: {queue}; Event API: {eventApi.AcceptedRequests.Sum(r => r.VisitorJson.Count)} visitors accepted."));
        return ExitCodes.Complete;
    }

    private static async Task<int> RunAsync(int visitors, bool json, bool verbose, CancellationToken cancellationToken)
    {
        if (visitors is < 1 or > 1_000_000)
        {
            await Console.Error.WriteLineAsync("--visitors: give a number from 1 to 1000000, e.g. --visitors 5000.");
            return ExitCodes.BadConfiguration;
        }

        var say = json ? TextWriter.Null : Console.Out;
        say.WriteLine("Starting the SQS emulator (fauxqs) and a local Event API ...");
        await using var emulator = await StartEmulatorAsync(port: 0, cancellationToken);
        await using var eventApi = await LocalEventApi.StartAsync(cancellationToken);
        using var sqs = emulator.CreateClient();
        var requests = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        ((Amazon.Runtime.AmazonServiceClient)sqs).BeforeRequestEvent += (_, e) =>
        {
            if (e is Amazon.Runtime.WebServiceRequestEventArgs w)
            {
                requests.AddOrUpdate(w.Request.GetType().Name.Replace("Request", "", StringComparison.Ordinal), 1, (_, n) => n + 1);
            }
        };
        var (queueUrl, dlqUrl) = await emulator.CreateQueueWithDeadLetterQueueAsync("event-queue", visibilityTimeoutSeconds: 60, ct: cancellationToken);

        var events = DemoEvents.Generate(visitors);
        requests.Clear(); // count only what the producer and the flush do
        var clock = Stopwatch.StartNew();
        var published = await PublishAsync(sqs, queueUrl, events, cancellationToken);
        var enqueueTime = clock.Elapsed;
        say.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Published {visitors} visitors in {events.Count} SDK events through the producer: {published.Sent} sent, {published.Dropped} dropped, {published.Refused} refused, {published.SendRequests} SendMessageBatch requests ({enqueueTime.TotalSeconds:0.00} s)."));

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["BulkDispatch:Sqs:QueueUrl"] = queueUrl,
            ["BulkDispatch:Sqs:ServiceUrl"] = emulator.ServiceUrl.ToString(),
            ["BulkDispatch:Optimizely:EndpointOverride"] = eventApi.EventsUrl.ToString(),
            ["BulkDispatch:Flush:ReceiveWaitTime"] = "00:00:01",
        }).Build();
        await using var services = CommonOptions.BuildServices(configuration, verbose, s => s.AddKeyedSingleton(FlushServiceCollectionExtensions.SqsServiceKey, sqs));
        say.WriteLine("Flushing ...");
        var progress = new ProgressLine();
        var report = await services.GetRequiredService<FlushEngine>().RunAsync(new FlushRunOptions { Progress = json ? null : progress.Show }, cancellationToken);
        progress.Done();
        var sqsRequests = new SortedDictionary<string, int>(requests, StringComparer.Ordinal);
        var queueStats = await StatsAsync(sqs, queueUrl, cancellationToken);
        var dlqStats = await StatsAsync(sqs, dlqUrl, cancellationToken);

        var accepted = eventApi.AcceptedRequests;
        int visitorsAccepted = accepted.Sum(r => r.VisitorJson.Count);
        long queueLeft = queueStats.Visible + queueStats.InFlight + queueStats.Delayed;
        long dlqLeft = dlqStats.Visible + dlqStats.InFlight + dlqStats.Delayed;
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                visitorsEnqueued = visitors,
                sdkEvents = events.Count,
                producer = published,
                eventApi = new { requests = eventApi.Requests.Count, accepted = accepted.Count, visitorsAccepted, schemaFailures = eventApi.SchemaFailures, bytes = accepted.Sum(r => (long)r.Body.Length) },
                sqsRequests,
                queueMessagesLeft = queueLeft,
                deadLetterMessages = dlqLeft,
                queue = queueStats,
                deadLetterQueue = dlqStats,
                report,
            }, FlushCommand.ReportJson));
        }
        else
        {
            say.Write(report.ToText());
            say.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Local Event API: {eventApi.Requests.Count} requests, {accepted.Count} accepted, {visitorsAccepted} visitors, {eventApi.SchemaFailures} schema failures, {accepted.Sum(r => (long)r.Body.Length)} bytes."));
            say.WriteLine("SQS requests by the producer and the flush: " + string.Join(", ", sqsRequests.Select(p => $"{p.Key} {p.Value}")) + ".");
            say.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"One Event API request per SDK event would have been {events.Count} requests; one per visitor {visitors}; one SQS SendMessage per event {events.Count}."));
            say.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Queue afterwards: {queueStats}; dead-letter queue: {dlqStats}."));
        }

        bool ok = report.Complete && visitorsAccepted == visitors && eventApi.SchemaFailures == 0 && queueLeft == 0;
        return ok ? ExitCodes.Complete : ExitCodes.Incomplete;
    }

    /// <summary>Publishes through the real producer, as an application's SDK dispatcher would, and waits until SQS has them.</summary>
    private static async Task<ProducerStatistics> PublishAsync(IAmazonSQS sqs, string queueUrl, IReadOnlyList<QueuedEvent> events, CancellationToken cancellationToken)
    {
        await using var publisher = new SqsEventPublisher(new ProducerOptions { Sqs = { QueueUrl = queueUrl } }, sqs, NullLoggerFactory.Instance);
        foreach (var e in events)
        {
            publisher.TryPublish(e.Url, e.HttpVerb, e.Headers, e.Body);
        }

        await publisher.FlushAsync(cancellationToken);
        return publisher.Statistics;
    }

    private static async Task<QueueCounts> StatsAsync(IAmazonSQS sqs, string queueUrl, CancellationToken cancellationToken)
    {
        var a = await sqs.GetQueueAttributesAsync(
            new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"] },
            cancellationToken);
        return new QueueCounts(a.ApproximateNumberOfMessages, a.ApproximateNumberOfMessagesNotVisible, a.ApproximateNumberOfMessagesDelayed);
    }

    /// <summary>A queue's approximate counts, as SQS reports them.</summary>
    private sealed record QueueCounts(long Visible, long InFlight, long Delayed)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Visible} visible, {InFlight} in flight, {Delayed} delayed");
    }
}
