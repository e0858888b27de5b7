using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.Soak;

/// <summary>
/// The fault soak: the real producer publishes seeded events into the emulator while the emulator is
/// restarted; real <c>bulkdispatch flush</c> processes drain the queue into a faulty local Event API,
/// one after another, some killed at random moments or right between a POST and its delete. Ends when
/// publishing is over and a run completes with the queue empty; then every published uuid must have been
/// accepted (or, for marked visitors only, dead-lettered as rejected), none missing.
/// </summary>
internal static class SoakRunner
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(10);

    public static async Task<SoakResult> RunAsync(SoakOptions o, CancellationToken cancellationToken = default)
    {
        var problems = o.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(o));
        }

        var clock = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(o.Timeout);
        var token = deadline.Token;
        var work = Directory.CreateTempSubdirectory("bulkdispatch-soak-");
        var state = new RunState(o);
        LocalEventApi? api = null;
        try
        {
            state.Emulator = await TestEmulators.StartWithStateAsync(0, Path.Combine(work.FullName, "sqs-state.json"), token);
            var (queueUrl, dlqUrl) = await state.Emulator.CreateQueueWithDeadLetterQueueAsync(
                "soak-" + o.Seed.ToString(CultureInfo.InvariantCulture), o.VisibilityTimeoutSeconds, maxReceiveCount: 1000, token);
            using var sqs = state.Emulator.CreateClient(); // same port after each restart, so the same endpoint and queue URLs

            api = await LocalEventApi.StartAsync(token);
            var apiFaults = EventApiFaults.InjectInto(api);
            api.ValidateSchema = o.ValidateSchema;
            var faults = new SoakFaults(o.Seed + 1, o.FaultRate, AttemptTimeout + TimeSpan.FromSeconds(3));
            apiFaults.Policy = request =>
            {
                // Flush runs are sequential and a killed one is dead before the next starts: the current run sent this.
                state.RunOf[request.Sequence] = state.CurrentRun;
                return faults.Decide(request);
            };
            string settings = await WriteSettingsAsync(work.FullName, o, queueUrl, state.Emulator.ServiceUrl, api.EventsUrl, token);

            var events = new SoakEvents(o.Events, o.Seed, o.RejectRate);
            var producerOptions = new ProducerOptions
            {
                Sqs = { QueueUrl = queueUrl },
                // Room for every event: nothing may be dropped while the emulator is down.
                BufferCapacity = Math.Max(o.Events, 1000),
                BufferBytes = Math.Max(64L * 1024 * 1024, o.Events * 16L * 1024),
                Linger = TimeSpan.FromMilliseconds(20),
                RetryBaseDelay = TimeSpan.FromMilliseconds(50),
                RetryMaxDelay = TimeSpan.FromSeconds(1),
                DisposeTimeout = TimeSpan.FromSeconds(60),
            };
            await using var publisher = new SqsEventPublisher(producerOptions, sqs, NullLoggerFactory.Instance);

            using var stopHarvest = new CancellationTokenSource();
            var harvest = HarvestAsync(api, publisher, faults, state, stopHarvest.Token);
            var publishing = PublishAsync(o, events, publisher, state, token);

            await FlushUntilDrainedAsync(o, sqs, queueUrl, settings, work.FullName, faults, publishing, state, token);
            await publishing;

            var producer = publisher.Statistics;
            if (producer.Published != o.Events || producer.Dropped != 0 || producer.Refused != 0 || producer.Buffered != 0)
            {
                state.Violation($"producer lost events: {producer}");
            }

            // Every request answered (hangs end within their delay), then the last ones counted.
            var settle = Stopwatch.StartNew();
            while (api.Requests.Any(r => r.Status == 0) && settle.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100, token);
            }

            await stopHarvest.CancelAsync();
            await harvest;
            state.Take(api);

            await CheckQueueEmptyAsync(o, sqs, queueUrl, state, token);
            var deadLettered = await ReadDeadLettersAsync(sqs, dlqUrl, state, token);
            return Compare(o, events, state, deadLettered, faults, producer, clock.Elapsed);
        }
        finally
        {
            if (api is not null)
            {
                api.Responder = AcceptingResponder.Instance; // no more faults while it stops
                await api.DisposeAsync();
            }

            state.CurrentChild?.Dispose();
            if (state.Emulator is { } emulator)
            {
                await emulator.DisposeAsync();
            }

            try
            {
                work.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is harmless.
            }
        }
    }

    private static async Task PublishAsync(SoakOptions o, SoakEvents events, SqsEventPublisher publisher, RunState state, CancellationToken token)
    {
        await Task.Yield();
        var random = new Random(o.Seed + 2);
        var restartAt = new Queue<int>(Enumerable.Range(0, o.EmulatorRestarts).Select(_ => (int)(o.Events * (0.2 + 0.6 * random.NextDouble()))).Order());
        var restarts = new List<Task>();
        var started = Stopwatch.StartNew();
        for (int i = 0; i < o.Events; i++)
        {
            while (restartAt.TryPeek(out int at) && at == i)
            {
                restartAt.Dequeue();
                // Concurrently: the producer keeps publishing into its buffer while SQS is away.
                restarts.Add(RestartEmulatorAsync(state, token));
            }

            var e = events.Next(i);
            if (!publisher.TryPublish(e.Url, e.Verb, e.Headers, e.Body))
            {
                state.Violation($"the producer refused event {i} (TryPublish returned false)");
            }

            Interlocked.Increment(ref state.Published);
            if (i % 100 == 99)
            {
                var ahead = TimeSpan.FromSeconds((i + 1) / (double)o.PublishRate) - started.Elapsed;
                if (ahead > TimeSpan.Zero)
                {
                    await Task.Delay(ahead, token);
                }
            }
        }

        await Task.WhenAll(restarts);
        await publisher.FlushAsync(token);
        state.Say($"published {o.Events} events ({events.Visitors} visitors) in {started.Elapsed.TotalSeconds:0.0} s; producer: {publisher.Statistics}");
    }

    private static async Task RestartEmulatorAsync(RunState state, CancellationToken token)
    {
        // One at a time: each restart must start from the snapshot the previous one wrote.
        await state.RestartLock.WaitAsync(token);
        try
        {
            var outage = Stopwatch.StartNew();
            var old = state.Emulator!;
            state.Emulator = await old.RestartAsync(token);
            Interlocked.Increment(ref state.EmulatorRestarts);
            state.Say($"emulator stopped (state snapshot written) and restarted on port {state.Emulator.Port} in {outage.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            state.RestartLock.Release();
        }
    }

    private static async Task FlushUntilDrainedAsync(
        SoakOptions o, IAmazonSQS sqs, string queueUrl, string settings, string work, SoakFaults faults, Task publishing, RunState state, CancellationToken token)
    {
        var random = new Random(o.Seed + 3);
        while (true)
        {
            if (publishing.IsFaulted)
            {
                await publishing; // its exception, not a hang
            }

            // Every run is killed until MinKills landed (the first ones between a POST and its delete), then
            // a seeded share of runs while publishing goes on; the drain at the end runs undisturbed.
            bool owed = state.Kills < o.MinKills;
            var plan = KillKind.None;
            if (owed || (!publishing.IsCompleted && random.NextDouble() < o.KillChance))
            {
                plan = (o.MinKills > 0 && state.KillsBetweenPostAndDelete == 0) || random.Next(2) == 0 ? KillKind.BetweenPostAndDelete : KillKind.Timed;
            }

            var killDelay = TimeSpan.FromMilliseconds(random.Next(500, 12_000));
            int accepts = random.Next(1, 4);
            using var child = FlushChild.Start(work, settings, o.FlushGcHeapLimitBytes);
            state.CurrentChild = child;
            state.FlushRuns++;
            state.CurrentRun = state.FlushRuns;
            using var timer = new CancellationTokenSource();
            Task timed = Task.CompletedTask;
            if (plan == KillKind.BetweenPostAndDelete)
            {
                faults.ArmKill(child, accepts);
            }
            else if (plan == KillKind.Timed)
            {
                timed = Task.Delay(killDelay, timer.Token).ContinueWith(t => child.Kill(KillKind.Timed), timer.Token, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            }

            await child.WaitAsync(token);
            faults.Disarm(child);
            await timer.CancelAsync();
            try
            {
                await timed;
            }
            catch (OperationCanceledException)
            {
                // The run ended before its kill was due.
            }

            state.CurrentChild = null;
            state.PeakFlushWorkingSet = Math.Max(state.PeakFlushWorkingSet, child.PeakWorkingSet);
            if (child.PeakWorkingSet > o.FlushMemoryBoundBytes)
            {
                state.Violation($"flush run {state.FlushRuns} peaked at {child.PeakWorkingSet} bytes, over the bound of {o.FlushMemoryBoundBytes}");
            }

            switch (child.Killed)
            {
                case KillKind.None:
                    string code = child.ExitCode.ToString(CultureInfo.InvariantCulture);
                    state.ExitCodes[code] = state.ExitCodes.GetValueOrDefault(code) + 1;
                    if (child.ExitCode is not (0 or 1))
                    {
                        // An emulator outage is a transient failure (exit 1); anything else is a bug to read about.
                        state.Say($"flush run {state.FlushRuns} exited with {child.ExitCode}: {Head(child.Output)}");
                    }

                    if (child.Output.Contains("OutOfMemory", StringComparison.Ordinal) || child.ExitCode is not (0 or 1 or 2))
                    {
                        // The whole output outlives the soak's temp folder, for whoever reads the violation.
                        string log = Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"bulkdispatch-soak-{o.Seed}-run{state.FlushRuns}.log"));
                        await File.WriteAllTextAsync(log, child.Output, token);
                        state.Violation($"flush run {state.FlushRuns} crashed (exit code {child.ExitCode}{(child.Output.Contains("OutOfMemory", StringComparison.Ordinal) ? ", out of memory" : "")}); its output: {log}");
                    }

                    if (child.ExitCode == 2)
                    {
                        state.Violation($"flush run {state.FlushRuns} rejected its settings: {Tail(child.Output)}");
                        return;
                    }

                    break;
                case KillKind.BetweenPostAndDelete:
                    state.KilledRuns[state.FlushRuns] = true;
                    state.Kills++;
                    state.KillsBetweenPostAndDelete++;
                    break;
                default:
                    state.KilledRuns[state.FlushRuns] = true;
                    state.Kills++;
                    break;
            }

            if (publishing.IsCompletedSuccessfully && child.Killed == KillKind.None && child.ExitCode == 0 && await QueueIsEmptyAsync(sqs, queueUrl, token))
            {
                break;
            }

            if (child.Killed == KillKind.None && child.ExitCode != 0)
            {
                await Task.Delay(500, token); // SQS away or the endpoint failing: do not spin
            }
        }

        if (state.Kills < o.MinKills || (o.MinKills > 0 && state.KillsBetweenPostAndDelete == 0))
        {
            state.Violation($"only {state.Kills} kills landed ({state.KillsBetweenPostAndDelete} between a POST and its delete); wanted {o.MinKills}, one of them between a POST and its delete");
        }
    }

    private static async Task<bool> QueueIsEmptyAsync(IAmazonSQS sqs, string queueUrl, CancellationToken token)
    {
        var attributes = await sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = queueUrl,
            AttributeNames = [QueueAttributeName.ApproximateNumberOfMessages, QueueAttributeName.ApproximateNumberOfMessagesNotVisible, QueueAttributeName.ApproximateNumberOfMessagesDelayed],
        }, token);
        return attributes.ApproximateNumberOfMessages == 0 && attributes.ApproximateNumberOfMessagesNotVisible == 0 && attributes.ApproximateNumberOfMessagesDelayed == 0;
    }

    private static async Task CheckQueueEmptyAsync(SoakOptions o, IAmazonSQS sqs, string queueUrl, RunState state, CancellationToken token)
    {
        // fauxqs returns expired in-flight messages only on a receive: wait out the timeout, then receive.
        await Task.Delay(TimeSpan.FromSeconds(o.VisibilityTimeoutSeconds + 1), token);
        var left = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queueUrl, MaxNumberOfMessages = 10, WaitTimeSeconds = 1 }, token);
        if (left.Messages is { Count: > 0 } messages || !await QueueIsEmptyAsync(sqs, queueUrl, token))
        {
            state.Violation($"the main queue is not empty at the end ({left.Messages?.Count ?? 0} received)");
        }
    }

    /// <summary>Every uuid in the dead-letter queue, with how often; checks each message's reason.</summary>
    private static async Task<Dictionary<string, int>> ReadDeadLettersAsync(IAmazonSQS sqs, string dlqUrl, RunState state, CancellationToken token)
    {
        var uuids = new Dictionary<string, int>(StringComparer.Ordinal);
        while (true)
        {
            var response = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest
            {
                QueueUrl = dlqUrl,
                MaxNumberOfMessages = 10,
                WaitTimeSeconds = 1,
                VisibilityTimeout = 600, // each message read once
                MessageAttributeNames = ["All"],
            }, token);
            if (response.Messages is not { Count: > 0 } messages)
            {
                return uuids;
            }

            foreach (var m in messages)
            {
                state.DeadLetterMessages++;
                string? reason = m.MessageAttributes?.GetValueOrDefault(WireFormat.ReasonAttribute)?.StringValue;
                string detail = m.MessageAttributes?.GetValueOrDefault(WireFormat.DetailAttribute)?.StringValue ?? "";
                var decoded = MessageDecoder.Decode(m.Body, legacy: null);
                if (!decoded.Succeeded)
                {
                    state.Violation($"a dead-lettered message does not decode ({decoded.FailureReason}); its reason is {reason ?? "none"}");
                    continue;
                }

                foreach (var e in decoded.Events)
                {
                    using var doc = JsonDocument.Parse(e.Body);
                    foreach (var visitor in doc.RootElement.GetProperty("visitors").EnumerateArray())
                    {
                        string id = visitor.GetProperty("visitor_id").GetString() ?? "";
                        if (reason != DeadLetterReason.RejectedByOptimizely || !SoakEvents.IsMarked(id) || !detail.Contains("HTTP 400", StringComparison.Ordinal) || !detail.Contains(id, StringComparison.Ordinal))
                        {
                            state.Violation($"visitor {id} dead-lettered with reason {reason ?? "none"} ({detail})");
                        }

                        foreach (string uuid in SoakEvents.UuidsOf(visitor))
                        {
                            uuids[uuid] = uuids.GetValueOrDefault(uuid) + 1;
                        }
                    }
                }
            }
        }
    }

    private static SoakResult Compare(SoakOptions o, SoakEvents events, RunState state, Dictionary<string, int> deadLettered, SoakFaults faults, ProducerStatistics producer, TimeSpan wall)
    {
        int missing = 0, acceptedUuids = 0;
        long duplicates = 0;
        var missingExamples = new List<string>();
        foreach (var (uuid, marked) in events.Uuids)
        {
            int accepted = state.Accepted.GetValueOrDefault(uuid);
            int dead = deadLettered.GetValueOrDefault(uuid);
            acceptedUuids += accepted > 0 ? 1 : 0;
            duplicates += Math.Max(0, accepted - 1);
            if (marked ? dead == 0 : accepted == 0)
            {
                missing++;
                if (missingExamples.Count < 5)
                {
                    missingExamples.Add(uuid + (marked ? " (marked)" : ""));
                }
            }

            if (marked && accepted > 0)
            {
                state.Violation($"uuid {uuid} of a marked visitor was accepted");
            }

            if (!marked && dead > 0)
            {
                state.Violation($"uuid {uuid} of an unmarked visitor was dead-lettered");
            }
        }

        if (missing > 0)
        {
            state.Violation($"{missing} uuids missing (neither accepted nor dead-lettered as rejected), e.g. {string.Join(", ", missingExamples)}");
        }

        int unknown = state.Accepted.Keys.Concat(deadLettered.Keys).Count(u => !events.Uuids.ContainsKey(u));
        if (unknown > 0)
        {
            state.Violation($"{unknown} uuids arrived that were never published");
        }

        if (state.SchemaFailures > 0)
        {
            state.Violation($"{state.SchemaFailures} requests failed the EventBatch schema");
        }

        if (state.EmulatorRestarts != o.EmulatorRestarts)
        {
            state.Violation($"{state.EmulatorRestarts} emulator restarts happened, not {o.EmulatorRestarts}");
        }

        return new SoakResult
        {
            Options = o,
            Events = o.Events,
            Visitors = events.Visitors,
            Uuids = events.Uuids.Count,
            MarkedVisitors = events.MarkedVisitors,
            AcceptedUuids = acceptedUuids,
            Duplicates = duplicates,
            DeadLetteredUuids = deadLettered.Count,
            DeadLetterDuplicates = deadLettered.Values.Sum(n => n - 1),
            DeadLetterMessages = state.DeadLetterMessages,
            Missing = missing,
            FlushRuns = state.FlushRuns,
            Kills = state.Kills,
            KillsBetweenPostAndDelete = state.KillsBetweenPostAndDelete,
            ExitCodes = new Dictionary<string, int>(state.ExitCodes),
            DuplicatesByCause = new Dictionary<string, int>(state.DuplicatesByCause),
            FaultsInjected = new Dictionary<string, int>(faults.Injected),
            EventApiRequests = faults.Requests,
            EmulatorRestarts = state.EmulatorRestarts,
            PeakFlushWorkingSet = state.PeakFlushWorkingSet,
            PeakProducerBuffered = state.PeakBuffered,
            ProducerCapacity = Math.Max(o.Events, 1000),
            ProducerSendRequests = producer.SendRequests,
            WallTime = wall,
            Violations = state.Violations(),
        };
    }

    private static async Task HarvestAsync(LocalEventApi api, SqsEventPublisher publisher, SoakFaults faults, RunState state, CancellationToken stop)
    {
        await Task.Yield();
        var progress = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                state.Take(api);
                state.PeakBuffered = Math.Max(state.PeakBuffered, publisher.Statistics.Buffered);
                if (progress.Elapsed >= ProgressInterval)
                {
                    progress.Restart();
                    state.Say($"published {Volatile.Read(ref state.Published)}, {state.FlushRuns} flush runs, {state.Kills} kills ({state.KillsBetweenPostAndDelete} between POST and delete), {faults.Requests} Event API requests, {state.Accepted.Count} uuids accepted");
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped: the caller takes the last requests itself.
        }
    }

    private static async Task<string> WriteSettingsAsync(string work, SoakOptions o, string queueUrl, Uri serviceUrl, Uri eventsUrl, CancellationToken token)
    {
        var ic = CultureInfo.InvariantCulture;
        var values = new Dictionary<string, string>
        {
            ["BulkDispatch__Sqs__QueueUrl"] = queueUrl,
            ["BulkDispatch__Sqs__ServiceUrl"] = serviceUrl.ToString(),
            ["BulkDispatch__Optimizely__EndpointOverride"] = eventsUrl.ToString(),
            // Short so that a soak sees many retries, timeouts and breaker openings in little time.
            ["BulkDispatch__Optimizely__MaxRetries"] = "3",
            ["BulkDispatch__Optimizely__RetryBaseDelay"] = "00:00:00.200",
            ["BulkDispatch__Optimizely__AttemptTimeout"] = AttemptTimeout.ToString("c", ic),
            ["BulkDispatch__Optimizely__CircuitBreakDuration"] = "00:00:02",
            ["BulkDispatch__Flush__ReceiveWaitTime"] = "00:00:01",
            ["BulkDispatch__Flush__MaxDuration"] = "00:00:30",
            ["BulkDispatch__Flush__SendGrace"] = "00:00:15",
            ["BulkDispatch__Flush__BatchLinger"] = "00:00:00.500",
            ["BulkDispatch__Flush__ReceiveConcurrency"] = "4",
            ["BulkDispatch__Flush__SendConcurrency"] = "4",
            // The memory budget the peak working set is checked against.
            ["BulkDispatch__Flush__MaxBufferedBytes"] = o.FlushMaxBufferedBytes.ToString(ic),
            ["BulkDispatch__Flush__MaxRequestBytes"] = o.FlushMaxRequestBytes.ToString(ic),
        };
        string file = Path.Combine(work, "local.settings.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new { IsEncrypted = false, Values = values }), token);
        return file;
    }

    private static string Head(string output) => output.Length <= 400 ? output.TrimEnd() : output[..400] + " ...";

    private static string Tail(string output) => output.Length <= 2000 ? output : output[^2000..];

    /// <summary>What the parts of a soak share while it runs.</summary>
    private sealed class RunState(SoakOptions options)
    {
        private readonly List<string> _violations = [];
        private readonly Lock _gate = new();

        public int Published;
        public int EmulatorRestarts;

        public SemaphoreSlim RestartLock { get; } = new(1, 1);

        public volatile SqsEmulator? Emulator;

        public volatile FlushChild? CurrentChild;

        public volatile int CurrentRun;

        /// <summary>Event API request sequence number → the flush run that sent it.</summary>
        public System.Collections.Concurrent.ConcurrentDictionary<int, int> RunOf { get; } = new();

        public System.Collections.Concurrent.ConcurrentDictionary<int, bool> KilledRuns { get; } = new();

        // Written by the flush loop only.
        public int FlushRuns { get; set; }

        public int Kills { get; set; }

        public int KillsBetweenPostAndDelete { get; set; }

        public Dictionary<string, int> ExitCodes { get; } = new(StringComparer.Ordinal);

        public long PeakFlushWorkingSet { get; set; }

        // Written by the harvester, read after it stopped.
        public Dictionary<string, int> Accepted { get; } = new(StringComparer.Ordinal);

        /// <summary>The run whose request was the first accepted one holding each uuid.</summary>
        public Dictionary<string, int> FirstRun { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, int> DuplicatesByCause { get; } = new(StringComparer.Ordinal);

        public long PeakBuffered { get; set; }

        public int SchemaFailures { get; set; }

        public int DeadLetterMessages { get; set; }

        public void Say(string line) => options.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{DateTime.UtcNow:HH:mm:ss}] {line}"));

        public void Violation(string problem)
        {
            lock (_gate)
            {
                // Thousands of the same kind say nothing more than the first few.
                if (_violations.Count < 50)
                {
                    _violations.Add(problem);
                }
            }

            Say("VIOLATION: " + problem);
        }

        public List<string> Violations()
        {
            lock (_gate)
            {
                return [.. _violations];
            }
        }

        /// <summary>Counts the uuids of every request the Event API has finished with, and forgets the requests.</summary>
        public void Take(LocalEventApi api)
        {
            lock (_gate)
            {
                foreach (var request in api.TakeAnswered())
                {
                    if (request.SchemaError is not null)
                    {
                        SchemaFailures++;
                        Violation($"schema failure: {request.SchemaError}");
                    }

                    RunOf.TryRemove(request.Sequence, out int run);
                    if (!request.Accepted)
                    {
                        continue;
                    }

                    foreach (var visitorJson in request.VisitorJson)
                    {
                        using var doc = JsonDocument.Parse(visitorJson);
                        foreach (string uuid in SoakEvents.UuidsOf(doc.RootElement))
                        {
                            Accepted[uuid] = Accepted.GetValueOrDefault(uuid) + 1;
                            if (!FirstRun.TryGetValue(uuid, out int first))
                            {
                                FirstRun[uuid] = run;
                                continue;
                            }

                            // Why it came again: what happened to the run that delivered it first.
                            string cause = first == run ? "same run (held past its visibility, or the emulator restarted under it)"
                                : KilledRuns.ContainsKey(first) ? "after a kill"
                                : "after a run that could not delete (emulator restart, failed run)";
                            DuplicatesByCause[cause] = DuplicatesByCause.GetValueOrDefault(cause) + 1;
                        }
                    }
                }
            }
        }
    }
}
