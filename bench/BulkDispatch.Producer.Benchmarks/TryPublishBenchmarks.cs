using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Producer.Benchmarks;

/// <summary>
/// The caller-side cost of <see cref="SqsEventPublisher.TryPublish"/>: mean time and bytes allocated
/// per call, with 1 and with 8 threads publishing at once, for 1-visitor and 10-visitor SDK bodies.
/// </summary>
/// <remarks>
/// The publisher points at an endpoint nothing listens on and has a buffer that cannot fill (see
/// <see cref="Workload.IsolatedPublisher"/>), so every call takes the accept path and the pump
/// uses no CPU: the figures are the caller's own, not the pump's or the emulator's competing for
/// the two cores (the console harness measures that case). A fresh publisher per iteration keeps the
/// buffer from growing across iterations. With 8 threads the mean is wall time divided by all calls
/// made by all threads (it includes the start and end barrier, about 1 % here).
/// </remarks>
[Config(typeof(ShortInProcessConfig))]
#pragma warning disable CA1001 // [GlobalCleanup] disposes the barriers and the client.
public class TryPublishBenchmarks
#pragma warning restore CA1001
{
    /// <summary>Calls made by one invocation of the benchmark method, split evenly over the threads.</summary>
    public const int CallsPerInvoke = 8192;

    private Amazon.SQS.AmazonSQSClient? _client;
    private QueuedEvent[] _events = [];
    private SqsEventPublisher? _publisher;
    private Barrier? _start;
    private Barrier? _done;
    private Thread[] _workers = [];
    private volatile bool _stopping;
    private int _refused;
    private long _expected;

    /// <summary>Threads publishing at once.</summary>
    [Params(1, 8)]
    public int Threads { get; set; }

    /// <summary>Visitors in each SDK event (the SDK's batch processor puts up to 10 in one).</summary>
    [Params(1, 10)]
    public int Visitors { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _client = Workload.UnreachableClient();
        _events = Workload.WithVisitors(Visitors, 16);
        if (Threads > 1)
        {
            _start = new Barrier(Threads + 1);
            _done = new Barrier(Threads + 1);
            _workers = [.. Enumerable.Range(0, Threads).Select(t => new Thread(() => WorkerLoop(t)) { IsBackground = true, Name = $"publisher-{t}" })];
            foreach (var worker in _workers)
            {
                worker.Start();
            }
        }
    }

    [IterationSetup]
    public void NewPublisher()
    {
        _publisher = Workload.IsolatedPublisher(_client!);
        _expected = 0;
    }

    [Benchmark(OperationsPerInvoke = CallsPerInvoke)]
    public int TryPublish()
    {
        _expected += CallsPerInvoke;
        if (Threads == 1)
        {
            return Publish(0, CallsPerInvoke);
        }

        _start!.SignalAndWait();
        _done!.SignalAndWait();
        return 0;
    }

    [IterationCleanup]
    public void DropPublisher()
    {
        if (_publisher is null)
        {
            return;
        }

        long published = _publisher.Statistics.Published;
        _publisher.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _publisher = null;
        if (Volatile.Read(ref _refused) != 0 || published != _expected)
        {
            throw new InvalidOperationException($"TryPublish did not accept every event ({published} of {_expected}, {_refused} refused): the figures would not be the accept path's.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (Threads > 1)
        {
            _stopping = true;
            _start!.SignalAndWait();
            foreach (var worker in _workers)
            {
                worker.Join();
            }

            _start.Dispose();
            _done!.Dispose();
        }

        _client?.Dispose();
    }

    private void WorkerLoop(int thread)
    {
        while (true)
        {
            _start!.SignalAndWait();
            if (_stopping)
            {
                return;
            }

            Publish(thread * 7, CallsPerInvoke / Threads);
            _done!.SignalAndWait();
        }
    }

    private int Publish(int offset, int calls)
    {
        var publisher = _publisher!;
        var events = _events;
        int accepted = 0;
        for (int i = 0; i < calls; i++)
        {
            var e = events[(offset + i) % events.Length];
            if (publisher.TryPublish(e.Url, e.HttpVerb, e.Headers, e.Body))
            {
                accepted++;
            }
        }

        if (accepted != calls)
        {
            Interlocked.Add(ref _refused, calls - accepted);
        }

        return accepted;
    }

    /// <summary>In process (no generated project to build on 2 cores), 5 warm-up and 15 measured iterations of 32 × 8192 calls.</summary>
    private sealed class ShortInProcessConfig : ManualConfig
    {
        public ShortInProcessConfig()
        {
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1)
                .WithWarmupCount(5)
                .WithIterationCount(15)
                .WithInvocationCount(32)
                .WithUnrollFactor(1)
                .WithId("ShortInProcess"));
            AddDiagnoser(MemoryDiagnoser.Default);
            ArtifactsPath = Path.Combine("artifacts", "producer-benchmarks");
        }
    }
}
