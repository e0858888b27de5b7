using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Packing;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>Messages, events and the shared run state the stage tests build on (no I/O: the queue and the Event API are in-test seams).</summary>
internal static class StageKit
{
    public const string Url = "https://logx.optimizely.com/v1/events";
    public const string RunId = "test-run";
    public static readonly ILogger Log = NullLogger.Instance;

    /// <summary>An EventBatch with one visitor per id (the id is in the visitor's JSON, so a body can be searched for it).</summary>
    public static string Batch(params string[] visitorIds) =>
        "{\"account_id\":\"12345\",\"project_id\":\"678\",\"client_name\":\"csharp-sdk\",\"visitors\":["
        + string.Join(",", visitorIds.Select(id => $"{{\"visitor_id\":\"{id}\",\"attributes\":[],\"snapshots\":[{{\"decisions\":[],\"events\":[{{\"key\":\"k\",\"uuid\":\"{id}-uuid\",\"timestamp\":1}}]}}]}}"))
        + "]}";

    /// <summary>A wire-format message with one event per body.</summary>
    public static string Message(params string[] eventBodies) =>
        WireFormat.Encode(eventBodies.Select(b => new QueuedEvent(Url, "POST", new Dictionary<string, string> { ["Content-Type"] = "application/json" }, b, DateTimeOffset.UnixEpoch)).ToList());

    /// <summary>A version-2 (compressed) message with one event per body.</summary>
    public static string Compressed(params string[] eventBodies)
    {
        using var encoder = new EventEncoder();
        using var writer = new CompressedMessageWriter();
        return writer.Write([.. eventBodies.Select(b => encoder.Encode(new QueuedEvent(Url, "POST", new Dictionary<string, string> { ["Content-Type"] = "application/json" }, b, DateTimeOffset.UnixEpoch)))]);
    }

    /// <summary>The decompressed <c>size</c> a version-2 message declares.</summary>
    public static int DeclaredSize(string compressed) =>
        System.Text.Json.JsonDocument.Parse(compressed).RootElement.GetProperty("size").GetInt32();

    public static ReceivedMessage Received(string body, int n) =>
        new(string.Create(CultureInfo.InvariantCulture, $"m{n}"), string.Create(CultureInfo.InvariantCulture, $"handle-{n}"), body);

    public static RunCounters Counters() => new(new FlushMetrics(new TestMeterFactory()));

    public static RunDeadlines Deadlines(TimeProvider time, TimeSpan? maxDuration = null, TimeSpan? sendGrace = null, CancellationToken host = default) =>
        new(maxDuration ?? TimeSpan.FromMinutes(4), sendGrace ?? TimeSpan.FromSeconds(45), time, Log, RunId, host);

    public static AdmissionRules Rules(int maxRequestBytes = 3_000_000) =>
        new([new Uri(Url)], null, "BulkDispatch__Legacy__AccountId", maxRequestBytes);

    /// <summary>Visitor ids in a merged body, in order.</summary>
    public static List<string> VisitorIds(ReadOnlySpan<byte> body) =>
        System.Text.RegularExpressions.Regex.Matches(Encoding.UTF8.GetString(body), "\"visitor_id\":\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();

    public static List<T> Drain<T>(ChannelReader<T> reader)
    {
        var items = new List<T>();
        while (reader.TryRead(out var item))
        {
            items.Add(item);
        }

        return items;
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose() => _meters.ForEach(m => m.Dispose());
    }
}

/// <summary>A ledger with its budget, its deletions channel and a kept sink that records what it kept.</summary>
internal sealed class LedgerKit
{
    public LedgerKit(long budgetBytes = 64L * 1024 * 1024)
    {
        Budget = new ByteBudget(budgetBytes);
        Ledger = new InFlightLedger(Budget, Deletions.Writer, Kept, new MessageBuffers(Pool));
    }

    /// <summary>Where the ledger's messages rent their buffers: exact sizes, every rent and return tracked.</summary>
    public TrackingArrayPool Pool { get; } = new();

    public ByteBudget Budget { get; }

    public Channel<InFlightMessage> Deletions { get; } = Channel.CreateUnbounded<InFlightMessage>();

    public RecordingKeptSink Kept { get; } = new();

    public InFlightLedger Ledger { get; }

    private int _next;

    public InFlightMessage Admit(string body, long leaseUntil = 0) => Ledger.Admit(StageKit.Received(body, Interlocked.Increment(ref _next)), leaseUntil);

    /// <summary>Runs the real decoder and packer over <paramref name="messageBodies"/> and returns the requests they made, and the dead letters.</summary>
    public async Task<(List<PackedRequest<EventTracker>> Requests, List<DeadLetter> DeadLetters, List<InFlightMessage> Messages)> PackAsync(
        RunCounters counters, RunDeadlines deadlines, TimeProvider time, int maxRequestBytes, params string[] messageBodies)
    {
        var received = Channel.CreateUnbounded<InFlightMessage>();
        var decoded = Channel.CreateUnbounded<DecodedMessage>();
        var requests = Channel.CreateUnbounded<PackedRequest<EventTracker>>();
        var deadLetters = Channel.CreateUnbounded<DeadLetter>();
        var messages = messageBodies.Select(b => Admit(b)).ToList();
        messages.ForEach(m => received.Writer.TryWrite(m));
        received.Writer.Complete();
        await new Admission(StageKit.Rules(maxRequestBytes), Ledger, counters, StageKit.Log, StageKit.RunId).RunAsync(received.Reader, decoded.Writer, deadLetters.Writer);
        await new Packer(maxRequestBytes, TimeSpan.FromSeconds(10), Budget, Ledger, deadlines, counters, time, StageKit.Log, StageKit.RunId).RunAsync(decoded.Reader, requests.Writer);
        return (StageKit.Drain(requests.Reader), StageKit.Drain(deadLetters.Reader), messages);
    }
}

/// <summary>An array pool that hands out arrays of exactly the size asked for and tracks which are out, to catch leaks and double returns.</summary>
internal sealed class TrackingArrayPool : System.Buffers.ArrayPool<byte>
{
    private readonly ConcurrentDictionary<byte[], byte> _out = new(ReferenceEqualityComparer.Instance);

    public int Rented => Volatile.Read(ref _rented);

    /// <summary>Arrays rented and not given back.</summary>
    public int Outstanding => _out.Count;

    private int _rented;

    public override byte[] Rent(int minimumLength)
    {
        var array = new byte[minimumLength];
        _out[array] = 0;
        Interlocked.Increment(ref _rented);
        return array;
    }

    public override void Return(byte[] array, bool clearArray = false) =>
        Assert.True(_out.TryRemove(array, out _), "an array was given back that was not out (returned twice?)");
}

internal sealed class RecordingKeptSink : IKeptMessageSink
{
    public ConcurrentQueue<InFlightMessage> Kept { get; } = new();

    public bool Finished { get; private set; }

    public void Keep(InFlightMessage message) => Kept.Enqueue(message);

    public Task FinishAsync(CancellationToken cancellationToken)
    {
        Finished = true;
        return Task.CompletedTask;
    }
}

/// <summary>An Event API stand-in: refuses (400) any request holding a visitor id in <see cref="Refused"/>, answers <see cref="Answer"/> otherwise.</summary>
internal sealed class ScriptedEventApi : IRequestSink
{
    public HashSet<string> Refused { get; } = new(StringComparer.Ordinal);

    public DeliveryStatus Answer { get; set; } = DeliveryStatus.Accepted;

    public ConcurrentQueue<List<string>> Requests { get; } = new();

    public Task<DeliveryResult> SendAsync(string url, ArraySegment<byte> body, int visitors, CancellationToken cancellationToken)
    {
        var ids = StageKit.VisitorIds(body);
        Assert.Equal(visitors, ids.Count);
        Requests.Enqueue(ids);
        if (ids.Any(Refused.Contains))
        {
            return Task.FromResult(new DeliveryResult(DeliveryStatus.Rejected, 400, "bad visitor"));
        }

        return Task.FromResult(new DeliveryResult(Answer, Answer == DeliveryStatus.Accepted ? 204 : 503, Answer.ToString()));
    }
}

/// <summary>A fake clock advanced in steps until a task completes: for whole-run tests whose stages wait on the clock, asserting outcomes, not timings.</summary>
internal static class Clock
{
    public static async Task<T> RunAsync<T>(FakeTimeProvider time, Task<T> run, TimeSpan step, int maxSteps = 10_000)
    {
        for (int i = 0; i < maxSteps && !run.IsCompleted; i++)
        {
            time.Advance(step);
            await Task.WhenAny(run, Task.Delay(2));
        }

        Assert.True(run.IsCompleted, $"the run did not end within {maxSteps} steps of {step}");
        return await run;
    }
}
