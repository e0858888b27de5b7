using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using BulkDispatch.Producer.Buffering;

namespace BulkDispatch.Producer.Diagnostics;

/// <summary>
/// One publisher's counts (<see cref="SqsEventPublisher.Statistics"/>) and the same counts as instruments of the
/// <c>BulkDispatch.Producer</c> meter, made by the given <see cref="IMeterFactory"/>. Publishers whose meters come from
/// one factory share its instruments; the <c>buffered</c> gauge reports the sum over those publishers. Thread-safe.
/// </summary>
internal sealed class ProducerMetrics : IDisposable
{
    public const string MeterName = "BulkDispatch.Producer";

    private static readonly ConditionalWeakTable<Meter, Instruments> ByMeter = new();
    // Indexed by the enums' values, in their order.
    private static readonly KeyValuePair<string, object?>[] RefusalTags = [Reason("missing"), Reason("too-large"), Reason("invalid-json"), Reason("sqs-rejected"), Reason("error")];
    private static readonly KeyValuePair<string, object?>[] DropTags = [Reason("buffer_full"), Reason("disposed"), Reason("dispose_deadline")];

    private readonly Instruments _instruments;
    private readonly Func<long> _buffered;
    private long _published, _sent, _dropped, _refused, _requests;

    /// <param name="meterFactory">Makes the meter (the container's factory, or <see cref="ProducerMeterFactory.Shared"/>).</param>
    /// <param name="buffered">The events this publisher holds now, for the gauge.</param>
    public ProducerMetrics(IMeterFactory meterFactory, Func<long> buffered)
    {
        var meter = meterFactory.Create(new MeterOptions(MeterName));
        _instruments = ByMeter.GetValue(meter, m => new Instruments(m));
        _buffered = buffered;
        _instruments.Watch(buffered);
    }

    public void Published()
    {
        Interlocked.Increment(ref _published);
        _instruments.Published.Add(1);
    }

    public void Sent(long events)
    {
        Interlocked.Add(ref _sent, events);
        _instruments.Sent.Add(events);
    }

    public void Dropped(long events, DropReason reason)
    {
        Interlocked.Add(ref _dropped, events);
        _instruments.Dropped.Add(events, DropTags[(int)reason]);
    }

    public void Refused(long events, RefusalKind kind)
    {
        Interlocked.Add(ref _refused, events);
        _instruments.Refused.Add(events, RefusalTags[(int)kind]);
    }

    public void Requests(long requests)
    {
        Interlocked.Add(ref _requests, requests);
        _instruments.Requests.Add(requests);
    }

    public void SendFailed() => _instruments.SendFailures.Add(1);

    /// <summary>The counts so far, with the events held now.</summary>
    public ProducerStatistics Snapshot(long buffered) => new(
        Interlocked.Read(ref _published),
        Interlocked.Read(ref _sent),
        Interlocked.Read(ref _dropped),
        Interlocked.Read(ref _refused),
        Interlocked.Read(ref _requests),
        buffered);

    /// <summary>Takes this publisher out of the gauge.</summary>
    public void Dispose() => _instruments.Unwatch(_buffered);

    private static KeyValuePair<string, object?> Reason(string reason) => new("reason", reason);

    /// <summary>The instruments of one meter, shared by the publishers whose meters are that one.</summary>
    private sealed class Instruments
    {
        private readonly List<Func<long>> _live = [];

        public Instruments(Meter meter)
        {
            Published = meter.CreateCounter<long>("bulkdispatch.producer.events.published", "{event}");
            Sent = meter.CreateCounter<long>("bulkdispatch.producer.events.sent", "{event}");
            Dropped = meter.CreateCounter<long>("bulkdispatch.producer.events.dropped", "{event}");
            Refused = meter.CreateCounter<long>("bulkdispatch.producer.events.refused", "{event}");
            Requests = meter.CreateCounter<long>("bulkdispatch.producer.requests", "{request}");
            SendFailures = meter.CreateCounter<long>("bulkdispatch.producer.send_failures", "{failure}", "SendMessageBatch attempts that failed and were retried");
            meter.CreateObservableGauge<long>("bulkdispatch.producer.buffered", Buffered, "{event}", "Events held in memory, not yet in SQS");
        }

        public Counter<long> Published { get; }

        public Counter<long> Sent { get; }

        public Counter<long> Dropped { get; }

        public Counter<long> Refused { get; }

        public Counter<long> Requests { get; }

        public Counter<long> SendFailures { get; }

        public void Watch(Func<long> buffered)
        {
            lock (_live)
            {
                _live.Add(buffered);
            }
        }

        public void Unwatch(Func<long> buffered)
        {
            lock (_live)
            {
                _live.Remove(buffered);
            }
        }

        private long Buffered()
        {
            lock (_live)
            {
                return _live.Sum(b => b());
            }
        }
    }
}
