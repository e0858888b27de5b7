using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.EndToEnd;

/// <summary>The figures of one design on one workload.</summary>
internal sealed class Figures
{
    public long Events { get; set; }
    public double PublishSeconds { get; set; }
    public double EndToEndSeconds { get; set; }
    public double FlushSeconds { get; set; }
    public double FlushCpuSeconds { get; set; }
    public long PeakWorkingSetBytes { get; set; }
    public int FlushProcesses { get; set; }
    public Dictionary<string, (long Requests, long Units)> Sqs { get; } = new(StringComparer.Ordinal);
    public long ApiRequests { get; set; }
    public long ApiBytes { get; set; }
    public long UuidsExpected { get; set; }
    public long UuidsDelivered { get; set; }
    public long Duplicates { get; set; }
    public long Ticks { get; set; }
    public long Dropped { get; set; }
    public long Lost { get; set; }
    public bool Extrapolated { get; set; }
    public long SampleEvents { get; set; }

    public long Requests(string op) => Sqs.TryGetValue(op, out var c) ? c.Requests : 0;

    public long Units => Sqs.Values.Sum(c => c.Units);

    public void Add(string op, long requests, long units)
    {
        Sqs[op] = Sqs.TryGetValue(op, out var c) ? (c.Requests + requests, c.Units + units) : (requests, units);
    }

    /// <summary>These figures scaled linearly to <paramref name="events"/> (the reference design is per-event linear).</summary>
    public Figures ScaledTo(long events)
    {
        double k = (double)events / Events;
        var f = new Figures
        {
            Events = events,
            PublishSeconds = PublishSeconds * k,
            EndToEndSeconds = EndToEndSeconds * k,
            FlushSeconds = FlushSeconds * k,
            PeakWorkingSetBytes = PeakWorkingSetBytes,
            ApiRequests = (long)Math.Ceiling(ApiRequests * k),
            ApiBytes = (long)(ApiBytes * k),
            UuidsExpected = (long)(UuidsExpected * k),
            UuidsDelivered = (long)(UuidsDelivered * k),
            Ticks = (long)Math.Ceiling(Ticks * k),
            Extrapolated = true,
            SampleEvents = Events,
        };
        foreach (var (op, c) in Sqs)
        {
            f.Sqs[op] = ((long)Math.Round(c.Requests * k), (long)Math.Round(c.Units * k));
        }

        return f;
    }
}

/// <summary>The runs the benchmark is made of, all against one emulator and one local Event API.</summary>
internal sealed partial class Scenarios(SqsEmulator emulator, LocalEventApi api, EventApiFaults faults, Workload workload, FlushProcesses flushes, Action<string> say)
{
    private const int BilledChunk = 64 * 1024;
    private const int OutageVisibilitySeconds = 3;
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;
    private static readonly IReadOnlyDictionary<string, string> Headers = new Dictionary<string, string> { ["Content-Type"] = "application/json" };
    private int _queues;

    /// <summary>
    /// The product: the real producer publishes <paramref name="events"/> events from one thread while
    /// `bulkdispatch flush` processes run one after another until the endpoint has every event.
    /// </summary>
    public async Task<Figures> ProductAsync(long events, IReadOnlyDictionary<string, string>? extraSettings, CancellationToken ct)
    {
        var (queue, _) = await emulator.CreateQueueWithDeadLetterQueueAsync(NewName("p"), visibilityTimeoutSeconds: 120, ct: ct);
        api.Reset();
        var figures = new Figures { Events = events, UuidsExpected = workload.TotalUuids(events) };
        using var sqs = emulator.CreateClient();
        var counts = Count(sqs);
        var settings = FlushSettings(queue, extraSettings);

        var clock = Stopwatch.StartNew();
        long startedAt = Stopwatch.GetTimestamp();
        var published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var flushLoop = Task.Run(() => FlushUntilDeliveredAsync(figures, settings, published.Task, stop.Token), CancellationToken.None);

        var options = new ProducerOptions { Sqs = { QueueUrl = queue }, OverflowPolicy = OverflowPolicy.Block, BlockTimeout = TimeSpan.FromSeconds(30) };
        await using (var publisher = new SqsEventPublisher(options, sqs, NullLoggerFactory.Instance))
        {
            await Task.Run(
                () =>
                {
                    for (long i = 0; i < events && !ct.IsCancellationRequested; i++)
                    {
                        publisher.TryPublish(workload.Url(i), "POST", Headers, workload.Body(i));
                    }
                },
                ct);
            await publisher.FlushAsync(ct);
            figures.Dropped = publisher.Statistics.Dropped + publisher.Statistics.Refused;
        }

        figures.PublishSeconds = clock.Elapsed.TotalSeconds;
        published.SetResult();
        try
        {
            await flushLoop.WaitAsync(TimeSpan.FromMinutes(10), ct);
        }
        finally
        {
            await stop.CancelAsync();
        }

        figures.EndToEndSeconds = Stopwatch.GetElapsedTime(startedAt, api.Counts.LastAcceptedAt).TotalSeconds;
        foreach (var (op, c) in counts)
        {
            figures.Add(op, c.Requests, c.Units);
        }

        figures.ApiRequests = api.Counts.Requests;
        figures.ApiBytes = api.Counts.AcceptedBytes;
        figures.UuidsDelivered = api.Counts.DistinctUuids;
        figures.Duplicates = api.Counts.DuplicateUuids;
        return figures;
    }

    private async Task FlushUntilDeliveredAsync(Figures figures, IReadOnlyDictionary<string, string> settings, Task published, CancellationToken ct)
    {
        // A run ends when the queue answers empty; while the producer is still publishing, the next one starts at once.
        while (!ct.IsCancellationRequested)
        {
            var run = await flushes.RunAsync(settings, ct);
            figures.FlushProcesses++;
            figures.FlushSeconds += run.Seconds;
            figures.FlushCpuSeconds += run.CpuSeconds;
            figures.PeakWorkingSetBytes = Math.Max(figures.PeakWorkingSetBytes, run.PeakWorkingSetBytes);
            foreach (var (op, c) in run.SqsRequests)
            {
                figures.Add(op, c.Requests, c.Units);
            }

            if (run.ExitCode is not (0 or 1))
            {
                throw new InvalidOperationException($"A flush process exited with {run.ExitCode}.");
            }

            if (published.IsCompleted && api.Counts.DistinctUuids >= figures.UuidsExpected)
            {
                return;
            }

            if (published.IsCompleted && run.MessagesReceived == 0 && run.ExitCode == 0)
            {
                throw new InvalidOperationException(string.Create(C,
                    $"The queue is empty but the endpoint has {api.Counts.DistinctUuids} of {figures.UuidsExpected} uuids."));
            }
        }
    }

    /// <summary>
    /// The Python reference design, faithfully: one SendMessage per event with a new client (own
    /// connection) each time, from one thread; then a consumer tick (a minute in production, run back to
    /// back here) that polls 5 times for 10 messages, deletes each message on its own before posting,
    /// and posts one request with what it read. Only the first visitor of each event is kept, as there.
    /// </summary>
    public async Task<Figures> BaselineAsync(long events, Func<long, bool>? endpointDownAtTick, CancellationToken ct)
    {
        string queue = await emulator.CreateQueueAsync(NewName("b"), visibilityTimeoutSeconds: 120, ct: ct);
        api.Reset();
        var figures = new Figures { Events = events, UuidsExpected = events }; // one uuid: the first visitor's single event
        var sendCounts = new ConcurrentDictionary<string, (long Requests, long Units)>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        long startedAt = Stopwatch.GetTimestamp();
        for (long i = 0; i < events && !ct.IsCancellationRequested; i++)
        {
            string body = workload.LegacyMessage(i);
            using var client = new AmazonSQSClient(new BasicAWSCredentials("test", "test"), new AmazonSQSConfig
            {
                ServiceURL = emulator.ServiceUrl.ToString(),
                AuthenticationRegion = SqsEmulator.Region,
                CacheHttpClient = false, // a new connection per event, as a new boto3 client per event
            });
            await client.SendMessageAsync(new SendMessageRequest(queue, body), ct);
            long units = Units(Encoding.UTF8.GetByteCount(body));
            sendCounts.AddOrUpdate("SendMessage", (1, units), (_, c) => (c.Requests + 1, c.Units + units));
        }

        figures.PublishSeconds = clock.Elapsed.TotalSeconds;

        using var sqs = emulator.CreateClient();
        var counts = Count(sqs);
        using var http = new HttpClient();
        long lost = 0;
        while (!ct.IsCancellationRequested)
        {
            figures.Ticks++;
            var visitors = new JsonArray();
            int deleted = 0;
            for (int poll = 0; poll < 5; poll++)
            {
                var received = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queue, MaxNumberOfMessages = 10 }, ct);
                foreach (var m in received.Messages ?? [])
                {
                    var legacy = JsonNode.Parse(m.Body)!.AsObject();
                    foreach (var (visitorId, pair) in legacy)
                    {
                        visitors.Add(new JsonObject
                        {
                            ["visitor_id"] = visitorId,
                            ["attributes"] = pair![0]!.DeepClone(),
                            ["snapshots"] = new JsonArray(pair[1]!.DeepClone()),
                        });
                    }

                    await sqs.DeleteMessageAsync(queue, m.ReceiptHandle, ct); // before the POST: the defect
                    deleted++;
                }
            }

            if (deleted == 0)
            {
                figures.Ticks--; // the tick that found the queue empty did nothing
                break;
            }

            var batch = new JsonObject
            {
                ["account_id"] = "1592310167", // hard-coded, as in the reference
                ["project_id"] = "7720880029",
                ["revision"] = "15",
                ["client_name"] = "python-sdk",
                ["client_version"] = "5.0.0",
                ["anonymize_ip"] = true,
                ["enrich_decisions"] = true,
                ["visitors"] = visitors,
            };
            bool down = endpointDownAtTick?.Invoke(figures.Ticks) ?? false;
            faults.Policy = down ? _ => EventApiFault.Status(503) : null;
            using var content = new StringContent(batch.ToJsonString(), Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync(api.EventsUrl, content, ct); // no retry, as in the reference
            if (!response.IsSuccessStatusCode)
            {
                lost += deleted;
            }
        }

        faults.Policy = null;
        figures.EndToEndSeconds = Stopwatch.GetElapsedTime(startedAt, api.Counts.LastAcceptedAt).TotalSeconds;
        figures.FlushSeconds = clock.Elapsed.TotalSeconds - figures.PublishSeconds;
        foreach (var (op, c) in sendCounts.Concat(counts))
        {
            figures.Add(op, c.Requests, c.Units);
        }

        figures.ApiRequests = api.Counts.Requests;
        figures.ApiBytes = api.Counts.AcceptedBytes;
        figures.UuidsDelivered = api.Counts.DistinctUuids;
        figures.Lost = lost;
        return figures;
    }

    /// <summary>
    /// The same outage in both designs: the endpoint answers 503 for <paramref name="downTicks"/> one-minute
    /// ticks. The product's flush runs during it (it retries, gives up, leaves the messages), then once more
    /// after it; the reference's consumer deletes before each failed post. Returns events lost by each.
    /// </summary>
    public async Task<(long ProductLost, long ProductEvents, long BaselineLost, long BaselineEvents)> OutageAsync(long events, int downTicks, CancellationToken ct)
    {
        // Product: publish everything, then a flush run while the endpoint is down, then one after.
        var (queue, _) = await emulator.CreateQueueWithDeadLetterQueueAsync(NewName("o"), visibilityTimeoutSeconds: OutageVisibilitySeconds, ct: ct);
        api.Reset();
        using (var sqs = emulator.CreateClient())
        {
            await using var publisher = new SqsEventPublisher(new ProducerOptions { Sqs = { QueueUrl = queue }, OverflowPolicy = OverflowPolicy.Block }, sqs, NullLoggerFactory.Instance);
            for (long i = 0; i < events; i++)
            {
                publisher.TryPublish(workload.Url(i), "POST", Headers, workload.Body(i));
            }

            await publisher.FlushAsync(ct);
        }

        var quickRetries = new Dictionary<string, string>
        {
            ["BulkDispatch__Optimizely__MaxRetries"] = "2",
            ["BulkDispatch__Optimizely__RetryBaseDelay"] = "00:00:00.100",
        };
        var settings = FlushSettings(queue, quickRetries);
        for (int tick = 0; tick < downTicks; tick++)
        {
            faults.Policy = _ => EventApiFault.Status(503);
            var down = await flushes.RunAsync(settings, ct);
            say(string.Create(C, $"  outage, product: flush run {tick + 1} during the outage exited {down.ExitCode}, {down.MessagesReceived} messages received, {down.EventsDelivered} events delivered"));
            // The next tick comes after the visibility timeout, as a minute does in production: the held messages are back.
            await Task.Delay(TimeSpan.FromSeconds(OutageVisibilitySeconds + 0.5), ct);
        }

        faults.Policy = null;
        // The messages the failed runs held come back when their visibility timeout ends.
        long expected = workload.TotalUuids(events);
        var deadline = Stopwatch.StartNew();
        while (api.Counts.DistinctUuids < expected && deadline.Elapsed < TimeSpan.FromSeconds(90))
        {
            var after = await flushes.RunAsync(settings, ct);
            say(string.Create(C, $"  outage, product: flush run after the outage exited {after.ExitCode}, {after.EventsDelivered} events delivered"));
            if (after.MessagesReceived == 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
            }
        }

        long productLost = expected - api.Counts.DistinctUuids;

        // Reference: the same events and the endpoint down for the same number of ticks (the first ones).
        var baseline = await BaselineAsync(events, tick => tick <= downTicks, ct);
        return (productLost, events, baseline.Lost, events);
    }

    /// <summary>
    /// The emulator's own ceiling: the same events pre-encoded before the clock starts into the messages the producer
    /// writes by default (version 2, a 1 MiB payload each), sent with bare SendMessageBatch (10 messages) from 4
    /// loops, then drained with bare ReceiveMessage x10 + DeleteMessageBatch from 8 loops (no decoding, no HTTP).
    /// </summary>
    public async Task<(double SendEventsPerSecond, double DrainEventsPerSecond)> CeilingAsync(long events, CancellationToken ct)
    {
        var at = DateTimeOffset.UtcNow;
        var encoded = Version2Messages(Enumerable.Range(0, checked((int)events)).Select(i => new QueuedEvent(workload.Url(i), "POST", Headers, workload.Body(i), at)));

        string queue = await emulator.CreateQueueAsync(NewName("c"), visibilityTimeoutSeconds: 120, ct: ct);
        using var sqs = emulator.CreateClient();
        var chunks = encoded.Chunk(10).ToArray();
        int next = -1;
        var send = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            int k;
            while ((k = Interlocked.Increment(ref next)) < chunks.Length)
            {
                var response = await sqs.SendMessageBatchAsync(new SendMessageBatchRequest
                {
                    QueueUrl = queue,
                    Entries = [.. chunks[k].Select((b, i) => new SendMessageBatchRequestEntry(i.ToString(C), b))],
                }, ct);
                if (response.Failed is { Count: > 0 })
                {
                    throw new InvalidOperationException(response.Failed[0].Message);
                }
            }
        }));
        double sendSeconds = send.Elapsed.TotalSeconds;

        var drain = Stopwatch.StartNew();
        long drained = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (true)
            {
                var received = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queue, MaxNumberOfMessages = 10, WaitTimeSeconds = 1 }, ct);
                if (received.Messages is not { Count: > 0 } messages)
                {
                    return;
                }

                await sqs.DeleteMessageBatchAsync(new DeleteMessageBatchRequest
                {
                    QueueUrl = queue,
                    Entries = [.. messages.Select((m, i) => new DeleteMessageBatchRequestEntry(i.ToString(C), m.ReceiptHandle))],
                }, ct);
                Interlocked.Add(ref drained, messages.Count);
            }
        }));

        // The last empty long poll (1 s) is not drain time.
        double drainSeconds = Math.Max(0.001, drain.Elapsed.TotalSeconds - 1);
        if (drained != encoded.Count)
        {
            say(string.Create(C, $"  WARNING: the bare drain got {drained} of {encoded.Count} messages"));
        }

        return (events / sendSeconds, events / drainSeconds);
    }

    private static List<string> Version2Messages(IEnumerable<QueuedEvent> events)
    {
        using var encoder = new EventEncoder(sqsSafeText: false);
        using var writer = new CompressedMessageWriter();
        var messages = new List<string>();
        foreach (var e in events)
        {
            var fragment = encoder.Encode(e);
            if (!writer.TryAdd(fragment))
            {
                writer.Compress();
                messages.Add(writer.ToBody());
                writer.Clear();
                writer.TryAdd(fragment);
            }
        }

        if (writer.Count > 0)
        {
            writer.Compress();
            messages.Add(writer.ToBody());
        }

        return messages;
    }

    private Dictionary<string, string> FlushSettings(string queue, IReadOnlyDictionary<string, string>? extra)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["BulkDispatch__Sqs__QueueUrl"] = queue,
            ["BulkDispatch__Sqs__ServiceUrl"] = emulator.ServiceUrl.ToString(),
            ["BulkDispatch__Sqs__Region"] = SqsEmulator.Region,
            ["BulkDispatch__Optimizely__EndpointOverride"] = api.EventsUrl.ToString(),
            ["BulkDispatch__Flush__ReceiveWaitTime"] = "00:00:01",
            ["AWS_ACCESS_KEY_ID"] = "test",
            ["AWS_SECRET_ACCESS_KEY"] = "test",
            ["AWS_REGION"] = SqsEmulator.Region,
            ["DOTNET_gcServer"] = "0",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            settings[k] = v;
        }

        return settings;
    }

    private string NewName(string prefix) => string.Create(C, $"{prefix}{Interlocked.Increment(ref _queues)}-{Guid.NewGuid():N}")[..24];

    private static long Units(long payload) => Math.Max(1, (payload + BilledChunk - 1) / BilledChunk);

    /// <summary>Counts a client's requests and billed units by operation (as the flush process does for itself).</summary>
    private static ConcurrentDictionary<string, (long Requests, long Units)> Count(IAmazonSQS sqs)
    {
        var counts = new ConcurrentDictionary<string, (long Requests, long Units)>(StringComparer.Ordinal);
        var client = (AmazonServiceClient)sqs;
        client.BeforeRequestEvent += (_, e) =>
        {
            if (e is WebServiceRequestEventArgs { Request: { } r })
            {
                long units = r switch
                {
                    SendMessageBatchRequest b => Units(b.Entries.Sum(m => (long)Encoding.UTF8.GetByteCount(m.MessageBody))),
                    SendMessageRequest s => Units(Encoding.UTF8.GetByteCount(s.MessageBody)),
                    ReceiveMessageRequest => 0, // added from the answer
                    _ => 1,
                };
                counts.AddOrUpdate(r.GetType().Name.Replace("Request", "", StringComparison.Ordinal), (1, units), (_, c) => (c.Requests + 1, c.Units + units));
            }
        };
        client.AfterResponseEvent += (_, e) =>
        {
            if (e is WebServiceResponseEventArgs { Response: ReceiveMessageResponse received })
            {
                long units = Units(received.Messages?.Sum(m => (long)Encoding.UTF8.GetByteCount(m.Body)) ?? 0);
                counts.AddOrUpdate("ReceiveMessage", (0, units), (_, c) => (c.Requests, c.Units + units));
            }
        };
        return counts;
    }
}
