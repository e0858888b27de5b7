using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// Usage: dotnet run -c Release --project bench/BulkDispatch.Benchmarks -- [events=20000] [rounds=3]
int events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var c = CultureInfo.InvariantCulture;

Console.WriteLine(string.Create(c, $"BulkDispatch flush benchmark: {events} SDK events, {rounds} rounds, {Environment.ProcessorCount} cores, .NET {Environment.Version}"));
await using var emulator = await TestEmulators.StartAsync();
await using var eventApi = await LocalEventApi.StartAsync();
eventApi.ValidateSchema = false; // measured separately: see docs/benchmarks.md
var generated = DemoEvents.GenerateEvents(events);
int visitors = generated.Sum(e => System.Text.Json.JsonDocument.Parse(e.Body).RootElement.GetProperty("visitors").GetArrayLength());
var messages = DemoEvents.ToMessages(generated);
Console.WriteLine(string.Create(c, $"workload: {events} events, {visitors} visitors, {messages.Count} SQS messages of <= 64 KiB, {messages.Sum(m => (long)m.Length) / 1024} KiB"));

var counts = new ConcurrentDictionary<string, int>();
using var countingClient = emulator.CreateClient();
((AmazonServiceClient)countingClient).BeforeRequestEvent += (_, e) =>
{
    if (e is WebServiceRequestEventArgs w)
    {
        counts.AddOrUpdate(w.Request.GetType().Name.Replace("Request", "", StringComparison.Ordinal), 1, (_, n) => n + 1);
    }
};

var flushTimes = new List<double>();
var bareTimes = new List<double>();
for (int round = 1; round <= rounds; round++)
{
    string queue = await emulator.CreateQueueAsync($"bench-{round}-{Guid.NewGuid():N}"[..30], visibilityTimeoutSeconds: 120);
    await EnqueueAsync(countingClient, queue, messages);
    counts.Clear();
    eventApi.Reset();

    var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["BulkDispatch:Sqs:QueueUrl"] = queue,
        ["BulkDispatch:Sqs:ServiceUrl"] = emulator.ServiceUrl.ToString(),
        ["BulkDispatch:Optimizely:EndpointOverride"] = eventApi.EventsUrl.ToString(),
        ["BulkDispatch:Flush:ReceiveWaitTime"] = "00:00:01",
    }).Build();
    var services = new ServiceCollection().AddKeyedSingleton(FlushServiceCollectionExtensions.SqsServiceKey, countingClient).AddBulkDispatchFlush(configuration).BuildServiceProvider();
    await using (services.ConfigureAwait(false))
    {
        var clock = Stopwatch.StartNew();
        var report = await services.GetRequiredService<FlushEngine>().RunAsync();
        double seconds = clock.Elapsed.TotalSeconds;
        flushTimes.Add(seconds);
        int apiRequests = eventApi.Requests.Count;
        Console.WriteLine(string.Create(c,
            $"round {round} flush: {seconds:0.00} s, {events / seconds:0} events/s, {visitors / seconds:0} visitors/s; complete={report.Complete}; " +
            $"SQS requests: {string.Join(", ", counts.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))}; " +
            $"Event API requests: {apiRequests} ({report.BytesSent / 1024} KiB); accepted visitors {eventApi.AcceptedRequests.Sum(r => r.VisitorJson.Count)}"));
        if (!report.Complete || eventApi.AcceptedRequests.Sum(r => r.VisitorJson.Count) != visitors)
        {
            Console.WriteLine("  WARNING: not everything was delivered in this round");
        }
    }

    // Baseline in the same run: a bare client draining the same messages (receive 10 + delete batch, 8 loops, no processing).
    string bareQueue = await emulator.CreateQueueAsync($"bare-{round}-{Guid.NewGuid():N}"[..30], visibilityTimeoutSeconds: 120);
    await EnqueueAsync(countingClient, bareQueue, messages);
    var bare = Stopwatch.StartNew();
    int drained = await BareDrainAsync(countingClient, bareQueue, 8);
    bareTimes.Add(bare.Elapsed.TotalSeconds);
    Console.WriteLine(string.Create(c, $"round {round} bare SQS drain of the same {drained} messages: {bare.Elapsed.TotalSeconds:0.00} s"));
}

double flushMedian = flushTimes.Order().ElementAt(flushTimes.Count / 2);
double bareMedian = bareTimes.Order().ElementAt(bareTimes.Count / 2);
Console.WriteLine(string.Create(c,
    $"median flush {flushMedian:0.00} s ({events / flushMedian:0} events/s); median bare drain {bareMedian:0.00} s; flush / bare drain = {flushMedian / bareMedian:0.00}; " +
    $"peak working set of this process (emulator excluded, generator included): {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB"));
return 0;

static async Task EnqueueAsync(IAmazonSQS sqs, string queue, IReadOnlyList<string> bodies)
{
    foreach (var chunk in bodies.Chunk(10))
    {
        var batch = chunk.Select((b, i) => new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), b)).ToList();
        var response = await sqs.SendMessageBatchAsync(new SendMessageBatchRequest { QueueUrl = queue, Entries = batch });
        if (response.Failed is { Count: > 0 })
        {
            throw new InvalidOperationException(response.Failed[0].Message);
        }
    }
}

static async Task<int> BareDrainAsync(IAmazonSQS sqs, string queue, int loops)
{
    int total = 0;
    await Task.WhenAll(Enumerable.Range(0, loops).Select(async _ =>
    {
        while (true)
        {
            var received = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queue, MaxNumberOfMessages = 10, WaitTimeSeconds = 1 });
            if (received.Messages is not { Count: > 0 } messages)
            {
                return;
            }

            await sqs.DeleteMessageBatchAsync(new DeleteMessageBatchRequest
            {
                QueueUrl = queue,
                Entries = messages.Select((m, i) => new DeleteMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.ReceiptHandle)).ToList(),
            });
            Interlocked.Add(ref total, messages.Count);
        }
    }));
    return total;
}
