using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.Producer.Benchmarks;

/// <summary>
/// The console harness: TryPublish latency percentiles (1 and 8 threads), events per second into the real
/// emulator, SQS requests per 1,000 events, and the reference design's way (one SendMessage per event on the
/// caller's thread, a new client each time) measured in the same run, with ratios.
/// </summary>
internal static class Harness
{
    private const int BillingChunk = 64 * 1024;
    private const int PacedCallsPerThread = 2_500;
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args)
    {
        int latencyCalls = Arg(args, 0, 200_000);
        int events = Arg(args, 1, 20_000);
        int baselineEvents = Arg(args, 2, 2_000);
        int rounds = Arg(args, 3, 3);

        Say($"BulkDispatch producer harness: {latencyCalls} TryPublish calls per latency run, {events} events x {rounds} throughput rounds, baseline {baselineEvents} events");
        Say($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, Stopwatch {Stopwatch.Frequency} Hz, GC server={System.Runtime.GCSettings.IsServerGC}");
        var mix = Workload.Mix(1000);
        Say($"workload: {mix.Length} distinct DemoEvents SDK events cycled, {mix.Average(Workload.VisitorCount):0.0} visitors and {Workload.AverageBodyBytes(mix):N0} body bytes per event on average");

        await using var emulator = await TestEmulators.StartAsync();
        using var emulatorClient = emulator.CreateClient();
        Say($"fauxqs on {emulator.ServiceUrl}");

        // Timer overhead: two GetTimestamp calls around nothing.
        var empty = Latency.Measure(1, 1_000_000, static (_, _) => true);
        Say($"timer overhead (empty call): p50 {Latency.Us(empty.P50)} µs, p99 {Latency.Us(empty.P99)} µs; included in every figure below");

        // Warm-up: JIT tiers and the buffer code paths, 1 and 8 threads, twice with a pause for tier-1 compilation.
        using (var unreachable = Workload.UnreachableClient())
        {
            for (int pass = 0; pass < 2; pass++)
            {
                await using var warm = Workload.IsolatedPublisher(unreachable);
                _ = Latency.Measure(1, 50_000, (t, i) => Publish(warm, mix, t, i));
                _ = Latency.Measure(8, 50_000, (t, i) => Publish(warm, mix, t, i));
                Thread.Sleep(300);
            }
        }

        Say("");
        Say("== TryPublish latency ==");
        var results = new Dictionary<string, Latency>(StringComparer.Ordinal);
        using (var unreachable = Workload.UnreachableClient())
        {
            foreach (int threads in new[] { 1, 8 })
            {
                await using var publisher = Workload.IsolatedPublisher(unreachable);
                Collect();
                var r = Latency.Measure(threads, latencyCalls, (t, i) => Publish(publisher, mix, t, i));
                results[$"isolated-{threads}"] = r;
                Say($"isolated (pump idle, unreachable queue), {threads} thread(s): {r.Describe()}");
            }
        }

        foreach (int threads in new[] { 1, 8 })
        {
            string queue = await emulator.CreateQueueAsync(QueueName("lat"));
            var options = new ProducerOptions
            {
                Sqs = { QueueUrl = queue, ServiceUrl = emulator.ServiceUrl.ToString() },
                BufferCapacity = 10_000_000, // so no call meets a full buffer: the accept path is what is timed
                BufferBytes = 1L << 40,
                DisposeTimeout = TimeSpan.Zero,
            };
            var publisher = new SqsEventPublisher(options, emulatorClient, NullLoggerFactory.Instance);
            publisher.TryPublish(mix[0].Url, mix[0].HttpVerb, mix[0].Headers, mix[0].Body);
            await publisher.FlushAsync(); // the pump has read the queue's attributes and has a connection
            Collect();
            var r = Latency.Measure(threads, latencyCalls, (t, i) => Publish(publisher, mix, t, i));
            var stats = publisher.Statistics;
            await publisher.DisposeAsync();
            await emulatorClient.DeleteQueueAsync(queue);
            results[$"live-{threads}"] = r;
            Say($"live (pump sending to the emulator meanwhile), {threads} thread(s): {r.Describe()}; the pump sent {stats.Sent - 1:N0} of them in {stats.SendRequests - 1} SendMessageBatch requests meanwhile");
        }

        // Paced: each thread sleeps 1 ms before each call (700-900 calls/s per thread), below what the pump sends, so the
        // buffer stays short, as in an application whose SDK hands over a batch of visitors now and then.
        foreach (int threads in new[] { 1, 8 })
        {
            string queue = await emulator.CreateQueueAsync(QueueName("paced"));
            var options = new ProducerOptions { Sqs = { QueueUrl = queue, ServiceUrl = emulator.ServiceUrl.ToString() } };
            await using var publisher = new SqsEventPublisher(options, emulatorClient, NullLoggerFactory.Instance);
            await publisher.FlushAsync();
            Collect();
            var r = Latency.Measure(threads, PacedCallsPerThread * threads, static (_, _) => Sleep1(), (t, i) => Publish(publisher, mix, t, i));
            await publisher.FlushAsync();
            var stats = publisher.Statistics;
            await emulatorClient.DeleteQueueAsync(queue);
            results[$"paced-{threads}"] = r;
            Say($"paced (1 ms sleep between calls, default options, pump sending to the emulator), {threads} thread(s): {r.Describe()}; {stats.Sent:N0} sent in {stats.SendRequests} requests, {stats.Dropped} dropped");
        }

        // Control for the paced runs: the same loop around the least a dispatcher must do (count the body's bytes,
        // allocate a record, enqueue it on a lock-free queue), to show what a call made right after a sleep costs on
        // this machine whatever the code.
        foreach (int threads in new[] { 1, 8 })
        {
            var queue = new ConcurrentQueue<QueuedEvent>();
            Collect();
            var r = Latency.Measure(threads, PacedCallsPerThread * threads, static (_, _) => Sleep1(), (t, i) =>
            {
                var e = mix[(t * 131 + i) % mix.Length];
                int bytes = Encoding.UTF8.GetByteCount(e.Body);
                queue.Enqueue(new QueuedEvent(e.Url, e.HttpVerb, e.Headers, e.Body, DateTimeOffset.UtcNow));
                return bytes > 0;
            });
            results[$"control-{threads}"] = r;
            Say($"paced control (same loop, GetByteCount + record + ConcurrentQueue.Enqueue instead of TryPublish), {threads} thread(s): {r.Describe()}");
        }

        Say("");
        Say("== Throughput into the emulator (default ProducerOptions but BufferBytes 256 MiB; 1 publishing thread; publish N, then FlushAsync) ==");
        var throughput = new List<Throughput>();
        var bare = new List<double>();
        for (int round = 1; round <= rounds; round++)
        {
            var t = await ThroughputAsync(emulator, mix, events);
            throughput.Add(t);
            Say($"round {round}: {t.Describe(events)}");
            double bareRate = await BareSendAsync(emulator, emulatorClient, mix, events);
            bare.Add(bareRate);
            Say(string.Create(C, $"round {round} emulator ceiling: the same events pre-encoded (messages of <= 100 KiB), bare SendMessageBatch x10 from 4 concurrent loops: {bareRate:N0} events/s"));
        }

        var instant = new List<(double Rate, int Gen2, TimeSpan Pause, double BytesPerEvent)>();
        for (int round = 1; round <= rounds; round++)
        {
            instant.Add(await InstantAsync(mix, events));
        }

        Say(string.Create(C, $"the producer's own ceiling (same options, an SQS client that accepts every batch at once without I/O): {string.Join(", ", instant.Select(r => $"{r.Rate:N0} events/s ({r.BytesPerEvent / 1024:0.0} KiB allocated per event, {r.Gen2} gen2 GCs, {r.Pause.TotalMilliseconds:0} ms GC pauses)"))}; the events' bodies average {Workload.AverageBodyBytes(mix) / 1024:0.0} KiB"));

        Say("");
        Say("== Baseline: the reference design's way (new AmazonSQSClient per event, SendMessage on the caller's thread) ==");
        string baselineQueue = await emulator.CreateQueueAsync(QueueName("base"));
        _ = Latency.Measure(1, 50, (t, i) => SendLikeReference(emulator, baselineQueue, mix, t, i, pooled: false)); // JIT warm-up
        var baseline = new Dictionary<string, Latency>(StringComparer.Ordinal);
        foreach (int threads in new[] { 1, 8 })
        {
            Collect();
            var r = Latency.Measure(threads, baselineEvents, (t, i) => SendLikeReference(emulator, baselineQueue, mix, t, i, pooled: false));
            baseline[$"new-{threads}"] = r;
            Say($"new client and connection per event, {threads} thread(s): {r.Describe()}");
        }

        var pooled = Latency.Measure(1, baselineEvents, (t, i) => SendLikeReference(emulator, baselineQueue, mix, t, i, pooled: true));
        Say($"for comparison, new client per event but the AWS SDK's shared HttpClient (connection reused), 1 thread: {pooled.Describe()}");
        int stored = await CountEventsAsync(emulatorClient, baselineQueue, wireFormat: false);
        Say($"baseline queue holds {stored:N0} messages (expected {50 + 3 * baselineEvents:N0}); SQS requests per 1,000 events: 1,000; billed 64 KiB chunks per 1,000 events: {1000.0 * mix.Sum(e => Chunks(Encoding.UTF8.GetByteCount(e.Body))) / mix.Length:N0}");
        await emulatorClient.DeleteQueueAsync(baselineQueue);

        Say("");
        Say("== Summary (BulkDispatch ÷ reference design; latency: live or paced publisher vs. new client and connection per event) ==");
        var median = throughput.OrderBy(t => t.EventsPerSecond).ElementAt(throughput.Count / 2);
        double baselineRate = baseline["new-1"].CallsPerSecond;
        double baselineChunks = 1000.0 * mix.Sum(e => Chunks(Encoding.UTF8.GetByteCount(e.Body))) / mix.Length;
        Row("TryPublish p50, 1 thread (µs)", results["live-1"].P50, baseline["new-1"].P50);
        Row("TryPublish p99, 1 thread (µs)", results["live-1"].P99, baseline["new-1"].P99);
        Row("TryPublish p50, 8 threads (µs)", results["live-8"].P50, baseline["new-8"].P50);
        Row("TryPublish p99, 8 threads (µs)", results["live-8"].P99, baseline["new-8"].P99);
        Row("TryPublish p99.9, 8 threads (µs)", results["live-8"].P999, baseline["new-8"].P999);
        Row("TryPublish p50, 1 thread, paced (µs)", results["paced-1"].P50, baseline["new-1"].P50);
        Row("TryPublish p99, 1 thread, paced (µs)", results["paced-1"].P99, baseline["new-1"].P99);
        Row("TryPublish p50, 8 threads, paced (µs)", results["paced-8"].P50, baseline["new-8"].P50);
        Row("TryPublish p99, 8 threads, paced (µs)", results["paced-8"].P99, baseline["new-8"].P99);
        Row("events/s into SQS, 1 publishing thread", median.EventsPerSecond, baselineRate);
        Row("events/s into SQS, 8 threads (baseline)", median.EventsPerSecond, baseline["new-8"].CallsPerSecond);
        Say(string.Create(C, $"  (median events/s of the bare pre-encoded SendMessageBatch ceiling: {bare.Order().ElementAt(bare.Count / 2):N0}; BulkDispatch / ceiling = {median.EventsPerSecond / bare.Order().ElementAt(bare.Count / 2):0.00})"));
        Row("SQS send requests per 1,000 events", median.RequestsPerThousand, 1000);
        Row("billed requests (64 KiB chunks) per 1,000 events", median.ChunksPerThousand, baselineChunks);
        Say(string.Create(C, $"isolated TryPublish (pump idle): p50/p99 {Latency.Us(results["isolated-1"].P50)}/{Latency.Us(results["isolated-1"].P99)} µs with 1 thread, {Latency.Us(results["isolated-8"].P50)}/{Latency.Us(results["isolated-8"].P99)} µs with 8; {results["isolated-1"].BytesPerCall:0} B allocated per call"));
        Say(string.Create(C, $"target (issue 3): TryPublish well under 10 µs at p99 with 8 threads: live p99 {Latency.Us(results["live-8"].P99)} µs ({(results["live-8"].P99 < 10 ? "under" : "NOT under")} 10), paced p99 {Latency.Us(results["paced-8"].P99)} µs ({(results["paced-8"].P99 < 10 ? "under" : "NOT under")} 10)"));
        return 0;
    }

    private static bool Sleep1()
    {
        Thread.Sleep(1);
        return true;
    }

    private static bool Publish(SqsEventPublisher publisher, QueuedEvent[] events, int thread, int i)
    {
        var e = events[(thread * 131 + i) % events.Length];
        return publisher.TryPublish(e.Url, e.HttpVerb, e.Headers, e.Body);
    }

    /// <summary>What the reference dispatcher did per event: a new client, one SendMessage, on the caller's thread.</summary>
    private static bool SendLikeReference(SqsEmulator emulator, string queue, QueuedEvent[] events, int thread, int i, bool pooled)
    {
        var e = events[(thread * 131 + i) % events.Length];
        var config = new AmazonSQSConfig
        {
            ServiceURL = emulator.ServiceUrl.ToString(),
            AuthenticationRegion = SqsEmulator.Region,
            // false: the client makes (and disposes) its own HttpClient, so each event opens a new connection,
            // as a new boto3 client per event did. true (the .NET SDK's default) shares one across clients.
            CacheHttpClient = pooled,
        };
        using var client = new AmazonSQSClient(new BasicAWSCredentials("test", "test"), config);
        var response = client.SendMessageAsync(new SendMessageRequest(queue, e.Body)).GetAwaiter().GetResult();
        return response.MessageId is not null;
    }

    private static async Task<Throughput> ThroughputAsync(SqsEmulator emulator, QueuedEvent[] mix, int events)
    {
        string queue = await emulator.CreateQueueAsync(QueueName("tp"));
        using var client = emulator.CreateClient();
        var requests = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        long chunks = 0;
        ((AmazonServiceClient)client).BeforeRequestEvent += (_, e) =>
        {
            if (e is WebServiceRequestEventArgs { Request: var request })
            {
                requests.AddOrUpdate(request.GetType().Name.Replace("Request", "", StringComparison.Ordinal), 1, (_, n) => n + 1);
                if (request is SendMessageBatchRequest batch)
                {
                    Interlocked.Add(ref chunks, Chunks(batch.Entries.Sum(x => Encoding.UTF8.GetByteCount(x.MessageBody))));
                }
            }
        };

        var options = ThroughputOptions(queue, emulator.ServiceUrl.ToString());
        await using var publisher = new SqsEventPublisher(options, client, NullLoggerFactory.Instance);
        await publisher.FlushAsync(); // started: the queue's MaximumMessageSize is read
        requests.Clear();
        Collect();

        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        int refused = 0;
        for (int i = 0; i < events; i++)
        {
            var e = mix[i % mix.Length];
            if (!publisher.TryPublish(e.Url, e.HttpVerb, e.Headers, e.Body))
            {
                refused++;
            }
        }

        var published = clock.Elapsed;
        await publisher.FlushAsync();
        var total = clock.Elapsed;
        long allocatedBytes = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        var stats = publisher.Statistics;
        int arrived = await CountEventsAsync(client, queue, wireFormat: true);
        await client.DeleteQueueAsync(queue);
        return new Throughput(total, published, stats, refused, arrived, new Dictionary<string, int>(requests, StringComparer.Ordinal), Interlocked.Read(ref chunks), allocatedBytes);
    }

    /// <summary>The throughput run's publisher on <see cref="InstantSqs"/>: events per second its own code can move.</summary>
    private static async Task<(double Rate, int Gen2, TimeSpan Pause, double BytesPerEvent)> InstantAsync(QueuedEvent[] mix, int events)
    {
        using var client = new InstantSqs();
        var options = ThroughputOptions("http://127.0.0.1:9/000000000000/instant", Workload.UnreachableServiceUrl);
        options.MaxMessageBytes = 256 * 1024; // what fauxqs reports; no GetQueueAttributes on this client
        await using var publisher = new SqsEventPublisher(options, client, NullLoggerFactory.Instance);
        Collect();
        int gen2 = GC.CollectionCount(2);
        var pause = GC.GetTotalPauseDuration();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < events; i++)
        {
            var e = mix[i % mix.Length];
            publisher.TryPublish(e.Url, e.HttpVerb, e.Headers, e.Body);
        }

        await publisher.FlushAsync();
        double seconds = clock.Elapsed.TotalSeconds;
        var stats = publisher.Statistics;
        if (stats.Sent != events)
        {
            throw new InvalidOperationException($"instant run: {stats.Sent} of {events} sent ({stats.Dropped} dropped, {stats.Refused} refused)");
        }

        return (events / seconds, GC.CollectionCount(2) - gen2, GC.GetTotalPauseDuration() - pause, (double)(GC.GetTotalAllocatedBytes(precise: true) - allocated) / events);
    }

    /// <summary>Defaults, except a byte bound that holds the whole run (the default 64 MiB holds ~13,800 of these events).</summary>
    private static ProducerOptions ThroughputOptions(string queue, string serviceUrl) =>
        new() { Sqs = { QueueUrl = queue, ServiceUrl = serviceUrl }, BufferBytes = 256L * 1024 * 1024 };

    /// <summary>
    /// What the emulator can take on this machine: the same events, encoded before the clock starts, sent with
    /// SendMessageBatch (10 messages of at most 100 KiB, so a batch stays under 1 MiB) from 4 loops, as many as the
    /// producer's default SendConcurrency. Returns events per second.
    /// </summary>
    private static async Task<double> BareSendAsync(SqsEmulator emulator, IAmazonSQS sqs, QueuedEvent[] mix, int events)
    {
        string queue = await emulator.CreateQueueAsync(QueueName("bare"));
        var all = Enumerable.Range(0, events).Select(i => mix[i % mix.Length]).ToList();
        var batches = DemoEvents.ToMessages(all, 100 * 1024).Chunk(10).ToArray();
        Collect();
        int next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < batches.Length)
            {
                var response = await sqs.SendMessageBatchAsync(new SendMessageBatchRequest
                {
                    QueueUrl = queue,
                    Entries = [.. batches[index].Select((body, i) => new SendMessageBatchRequestEntry(i.ToString(C), body))],
                });
                if (response.Failed is { Count: > 0 } failed)
                {
                    throw new InvalidOperationException($"bare send failed: {failed[0].Code} {failed[0].Message}");
                }
            }
        }));
        double rate = events / clock.Elapsed.TotalSeconds;
        await sqs.DeleteQueueAsync(queue);
        return rate;
    }

    /// <summary>Receives every message of the queue (after the measurement) and counts the events in them.</summary>
    private static async Task<int> CountEventsAsync(IAmazonSQS sqs, string queue, bool wireFormat)
    {
        int count = 0;
        int emptyReceives = 0;
        while (emptyReceives < 2)
        {
            var received = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queue, MaxNumberOfMessages = 10, WaitTimeSeconds = 1, VisibilityTimeout = 600 });
            if (received.Messages is not { Count: > 0 } messages)
            {
                emptyReceives++;
                continue;
            }

            foreach (var message in messages)
            {
                if (wireFormat)
                {
                    using var document = JsonDocument.Parse(message.Body);
                    // Version 2 declares its events' number; version 1 carries them as an array.
                    count += document.RootElement.TryGetProperty("count", out var declared) ? declared.GetInt32() : document.RootElement.GetProperty("events").GetArrayLength();
                }
                else
                {
                    count++;
                }
            }
        }

        return count;
    }

    private static long Chunks(long bytes) => Math.Max(1, (bytes + BillingChunk - 1) / BillingChunk);

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static string QueueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private static int Arg(string[] args, int index, int fallback) =>
        args.Length > index ? int.Parse(args[index], C) : fallback;

    private static void Row(string figure, double product, double baseline) =>
        Say(string.Create(C, $"  {figure,-50} BulkDispatch {Format(product),12}   reference {Format(baseline),12}   ratio {Ratio(product, baseline)}"));

    private static string Format(double value) => value < 1000 ? value.ToString("0.00", C) : value.ToString("N0", C);

    private static string Ratio(double product, double baseline)
    {
        double r = product / baseline;
        return r >= 1 ? r.ToString("0.0", C) : string.Create(C, $"{r:0.00000} (1/{1 / r:N0})");
    }

    private static void Say(string line) => Console.WriteLine(line);

    private sealed record Throughput(TimeSpan Total, TimeSpan Published, ProducerStatistics Stats, int Refused, int Arrived, Dictionary<string, int> Requests, long Chunks, long AllocatedBytes)
    {
        public double EventsPerSecond => Stats.Published / Total.TotalSeconds;

        public double RequestsPerThousand => 1000.0 * Stats.SendRequests / Stats.Published;

        public double ChunksPerThousand => 1000.0 * Chunks / Stats.Published;

        public string Describe(int events) => string.Create(C,
            $"{events:N0} events published in {Published.TotalMilliseconds:0} ms, in SQS after FlushAsync at {Total.TotalMilliseconds:0} ms: {EventsPerSecond:N0} events/s; " +
            $"sent {Stats.Sent:N0}, dropped {Stats.Dropped}, refused {Stats.Refused}, TryPublish false {Refused}; {Stats.SendRequests} SendMessageBatch requests ({RequestsPerThousand:0.0} per 1,000 events, {ChunksPerThousand:0.0} billed 64 KiB chunks per 1,000); " +
            $"SQS requests seen: {string.Join(", ", Requests.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))}; events found in the queue afterwards: {Arrived:N0}; the process allocated {AllocatedBytes / 1024.0 / Stats.Published:0.0} KiB per event (producer and AWS SDK)");
    }
}
