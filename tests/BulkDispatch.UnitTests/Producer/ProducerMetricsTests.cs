using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Amazon.SQS;
using BulkDispatch.Producer;
using BulkDispatch.Producer.Diagnostics;
using BulkDispatch.UnitTests.Core.Sqs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Producer;

/// <summary>The <c>BulkDispatch.Producer</c> meter: made by the container's IMeterFactory, the same instruments and tags as before.</summary>
public sealed class ProducerMetricsTests
{
    private const string Url = "https://logx.optimizely.com/v1/events";
    private const string Body = "{\"account_id\":\"1\",\"visitors\":[{\"visitor_id\":\"v\"}]}";
    private static readonly Dictionary<string, string> Headers = new() { ["Content-Type"] = "application/json" };

    [Fact]
    public async Task The_registered_publisher_reports_on_the_container_s_meter()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["BulkDispatch:Sqs:QueueUrl"] = "http://127.0.0.1:9/000000000000/unit",
            ["BulkDispatch:Producer:MaxMessageBytes"] = "262144", // no GetQueueAttributes: nothing to answer it here
            ["BulkDispatch:Producer:Linger"] = "00:00:00",
        }).Build();
        var sqs = new ScriptedSqs();
        await using var services = new ServiceCollection()
            .AddMetrics()
            .AddKeyedSingleton<IAmazonSQS>(ProducerServiceCollectionExtensions.SqsServiceKey, sqs)
            .AddBulkDispatchProducer(configuration)
            .BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        using var measurements = new Measurements(meter => meter.Scope == factory);

        var publisher = services.GetRequiredService<SqsEventPublisher>();
        Assert.True(publisher.TryPublish(Url, "POST", Headers, Body));
        Assert.True(publisher.TryPublish(Url, "POST", Headers, Body));
        Assert.False(publisher.TryPublish("", "POST", Headers, Body));
        await publisher.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, measurements.Sum("bulkdispatch.producer.events.published"));
        Assert.Equal(2, measurements.Sum("bulkdispatch.producer.events.sent"));
        Assert.Equal(1, measurements.Sum("bulkdispatch.producer.events.refused", "missing"));
        Assert.Equal(sqs.Sends.Count, measurements.Sum("bulkdispatch.producer.requests"));
        Assert.Equal(0, measurements.Observe("bulkdispatch.producer.buffered"));
        Assert.Equal(ProducerMetrics.MeterName, measurements.MeterNames.Single());
    }

    [Fact]
    public async Task Drops_are_tagged_with_their_reason_and_the_gauge_sums_the_publishers_of_one_meter()
    {
        using var container = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = container.GetRequiredService<IMeterFactory>();
        using var measurements = new Measurements(meter => meter.Scope == factory);
        var time = new FakeTimeProvider(); // the linger never ends: what is published stays buffered
        var options = new ProducerOptions { Sqs = { QueueUrl = "http://127.0.0.1:9/000000000000/unit" }, MaxMessageBytes = 262_144, BufferCapacity = 3, DisposeTimeout = TimeSpan.Zero };
        using var sqs = new ScriptedSqs();
        var first = new SqsEventPublisher(options, sqs, NullLoggerFactory.Instance, factory, time, ownsClient: false);
        var second = new SqsEventPublisher(options, sqs, NullLoggerFactory.Instance, factory, time, ownsClient: false);
        for (int i = 0; i < 5; i++)
        {
            first.TryPublish(Url, "POST", Headers, Body);
        }

        second.TryPublish(Url, "POST", Headers, Body);

        Assert.Equal(2, measurements.Sum("bulkdispatch.producer.events.dropped", "buffer_full"));
        Assert.Equal(4, measurements.Observe("bulkdispatch.producer.buffered"));
        await first.DisposeAsync(); // DisposeTimeout zero: nothing is sent, the 3 held are dropped
        Assert.Equal(1, measurements.Observe("bulkdispatch.producer.buffered"));
        await second.DisposeAsync();
        Assert.Equal(0, measurements.Observe("bulkdispatch.producer.buffered"));
        Assert.Equal(3 + 1, measurements.Sum("bulkdispatch.producer.events.dropped", "dispose_deadline"));
    }

    [Fact]
    public async Task A_publisher_made_without_a_factory_reports_on_a_process_wide_meter()
    {
        using var measurements = new Measurements(meter => meter.Scope == ProducerMeterFactory.Shared);
        using var sqs = new ScriptedSqs();
        await using var publisher = new SqsEventPublisher(new ProducerOptions { Sqs = { QueueUrl = "http://127.0.0.1:9/000000000000/unit" }, MaxMessageBytes = 262_144 }, sqs, NullLoggerFactory.Instance);

        Assert.False(publisher.TryPublish(Url, "POST", Headers, ""));

        Assert.True(measurements.Sum("bulkdispatch.producer.events.refused", "missing") >= 1);
        Assert.Same(ProducerMeterFactory.Shared.Create(new MeterOptions(ProducerMetrics.MeterName)), ProducerMeterFactory.Shared.Create(new MeterOptions(ProducerMetrics.MeterName)));
    }

    /// <summary>Every long measurement of the meters <paramref name="include"/> picks, by instrument and reason tag.</summary>
    private sealed class Measurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, long Value, string? Reason)> _values = new();
        private readonly ConcurrentDictionary<string, byte> _meters = new();

        public Measurements(Func<Meter, bool> include)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (include(instrument.Meter))
                {
                    _meters[instrument.Meter.Name] = 0;
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                string? reason = null;
                foreach (var tag in tags)
                {
                    reason = tag.Key == "reason" ? tag.Value as string : reason;
                }

                _values.Enqueue((instrument.Name, value, reason));
            });
            _listener.Start();
        }

        public IEnumerable<string> MeterNames => _meters.Keys;

        public long Sum(string instrument, string? reason = null) =>
            _values.Where(v => v.Instrument == instrument && (reason is null || v.Reason == reason)).Sum(v => v.Value);

        /// <summary>Reads the observable instruments now and returns the latest value of <paramref name="instrument"/>.</summary>
        public long Observe(string instrument)
        {
            _listener.RecordObservableInstruments();
            return _values.Last(v => v.Instrument == instrument).Value;
        }

        public void Dispose() => _listener.Dispose();
    }
}
