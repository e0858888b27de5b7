using System.Diagnostics.Metrics;
using BulkDispatch.Cli.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace BulkDispatch.UnitTests.Cli;

/// <summary>
/// <c>serve --metrics-port</c>'s Prometheus text, rendered from what the OpenTelemetry SDK aggregated (the endpoint is
/// not started: <see cref="MetricsEndpoint.Scrape"/> is what each GET /metrics answers).
/// </summary>
public sealed class MetricsEndpointTests : IDisposable
{
    private readonly string _meterName = "BulkDispatch.Test." + Guid.NewGuid().ToString("N");
    private readonly Meter _meter;
    private readonly MetricsEndpoint _endpoint = new(port: 1, NullLogger<MetricsEndpoint>.Instance);
    private readonly MeterProvider _provider;

    public MetricsEndpointTests()
    {
        _meter = new Meter(_meterName);
        _provider = Sdk.CreateMeterProviderBuilder().AddMeter(_meterName).AddReader(_endpoint.Reader).Build();
    }

    [Fact]
    public void A_counter_is_a_counter_family_named_with_total_and_its_tags_as_labels()
    {
        var counter = _meter.CreateCounter<long>("bulkdispatch.flush.messages.received", "{message}", "SQS messages received");
        counter.Add(2, new KeyValuePair<string, object?>("outcome", "ok"));
        counter.Add(3, new KeyValuePair<string, object?>("outcome", "ok"));
        counter.Add(1, new KeyValuePair<string, object?>("outcome", "say \"hi\"\\"));

        var lines = Lines(_endpoint.Scrape());

        Assert.Contains("# HELP bulkdispatch_flush_messages_received_total SQS messages received", lines);
        Assert.Contains("# TYPE bulkdispatch_flush_messages_received_total counter", lines);
        Assert.Contains("bulkdispatch_flush_messages_received_total{outcome=\"ok\"} 5", lines);
        Assert.Contains("bulkdispatch_flush_messages_received_total{outcome=\"say \\\"hi\\\"\\\\\"} 1", lines);
    }

    [Fact]
    public void A_histogram_in_seconds_has_cumulative_buckets_a_sum_and_a_count()
    {
        var histogram = _meter.CreateHistogram<double>("bulkdispatch.flush.run.duration", "s", "Duration of flush runs");
        histogram.Record(0.5);
        histogram.Record(1.0);
        histogram.Record(2000);

        var lines = Lines(_endpoint.Scrape());

        Assert.Contains("# TYPE bulkdispatch_flush_run_duration_seconds histogram", lines);
        Assert.Contains("bulkdispatch_flush_run_duration_seconds_count 3", lines);
        Assert.Contains("bulkdispatch_flush_run_duration_seconds_sum 2001.5", lines);
        Assert.Contains("bulkdispatch_flush_run_duration_seconds_bucket{le=\"+Inf\"} 3", lines);
        Assert.Contains("bulkdispatch_flush_run_duration_seconds_bucket{le=\"1000\"} 2", lines); // cumulative: 0.5 and 1.0
    }

    [Fact]
    public void Gauges_and_byte_units_are_named_as_prometheus_expects()
    {
        long buffered = 7;
        _meter.CreateObservableGauge("bulkdispatch.producer.buffered", () => buffered, "{event}");
        _meter.CreateCounter<long>("bulkdispatch.flush.bytes.sent", "By").Add(1024);

        var lines = Lines(_endpoint.Scrape());

        Assert.Contains("# TYPE bulkdispatch_producer_buffered gauge", lines);
        Assert.Contains("bulkdispatch_producer_buffered 7", lines);
        Assert.Contains("bulkdispatch_flush_bytes_sent_bytes_total 1024", lines);
    }

    [Theory]
    [InlineData("bulkdispatch.flush.requests", "{request}", true, "bulkdispatch_flush_requests_total")]
    [InlineData("bulkdispatch.flush.run.duration", "s", false, "bulkdispatch_flush_run_duration_seconds")]
    [InlineData("queue.wait_seconds", "s", false, "queue_wait_seconds")]
    [InlineData("9lives-count", "", true, "_9lives_count_total")]
    [InlineData("jobs_total", "1", true, "jobs_total")]
    public void Names_follow_the_opentelemetry_prometheus_conventions(string instrument, string unit, bool counter, string expected) =>
        Assert.Equal(expected, PrometheusText.Name(instrument, unit, counter));

    public void Dispose()
    {
        _provider.Dispose();
        _meter.Dispose();
        _endpoint.Dispose();
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
