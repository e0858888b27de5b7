using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace BulkDispatch.Cli.Metrics;

/// <summary>
/// <c>serve --metrics-port</c>: the BulkDispatch.* meters, aggregated by the OpenTelemetry metrics SDK, served in
/// Prometheus text format on <c>http://127.0.0.1:PORT/metrics</c> (loopback only).
/// </summary>
/// <remarks>
/// OpenTelemetry's own Prometheus exporters are pre-release packages, and a stable tool package cannot depend on
/// one (NU5104). The SDK does the aggregation (counters, histograms, observable gauges); this type only renders a
/// pull on each scrape and answers it with <see cref="HttpListener"/>.
/// </remarks>
internal sealed class MetricsEndpoint : IHostedService, IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ScrapeExporter _exporter = new();
    private readonly Lock _scrapeGate = new();
    private readonly ILogger<MetricsEndpoint> _logger;
    private Task? _serving;

    public MetricsEndpoint(int port, ILogger<MetricsEndpoint> logger)
    {
        _logger = logger;
        Reader = new BaseExportingMetricReader(_exporter);
        _listener.Prefixes.Add(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/"));
    }

    /// <summary>The reader to add to the meter provider (<c>AddReader</c>); each scrape collects through it.</summary>
    public MetricReader Reader { get; }

    /// <summary>Starts listening; a port that cannot be listened on throws <see cref="HttpListenerException"/> here, at start.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener.Start();
        _serving = Task.Run(ServeAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _listener.Stop(); // ends GetContextAsync below
        if (_serving is not null)
        {
            await _serving.WaitAsync(cancellationToken);
        }
    }

    public void Dispose()
    {
        _listener.Close();
        Reader.Dispose(); // disposes the exporter too
    }

    /// <summary>The current values of every meter, as Prometheus text.</summary>
    internal string Scrape()
    {
        lock (_scrapeGate)
        {
            _exporter.Last = string.Empty;
            Reader.Collect();
            return _exporter.Last;
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }

            try
            {
                await AnswerAsync(context);
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException)
            {
                _logger.LogDebug("A metrics scrape was cut off: {Message}", ex.Message);
            }
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var response = context.Response;
        if (context.Request.Url?.AbsolutePath.TrimEnd('/') != "/metrics")
        {
            response.StatusCode = (int)HttpStatusCode.NotFound;
            return;
        }

        if (context.Request.HttpMethod is not ("GET" or "HEAD"))
        {
            response.StatusCode = (int)HttpStatusCode.MethodNotAllowed;
            return;
        }

        byte[] body = Encoding.UTF8.GetBytes(Scrape());
        response.StatusCode = (int)HttpStatusCode.OK;
        response.ContentType = PrometheusText.ContentType;
        response.ContentLength64 = body.Length;
        if (context.Request.HttpMethod == "GET")
        {
            await response.OutputStream.WriteAsync(body);
        }
    }

    /// <summary>
    /// Renders what one collection hands it. A plain <see cref="BaseExportingMetricReader"/> exports only when collected
    /// (no timer), which is what a scrape wants; the SDK's pull-only mode is reserved to its own exporters.
    /// </summary>
    private sealed class ScrapeExporter : BaseExporter<Metric>
    {
        public string Last { get; set; } = string.Empty;

        public override ExportResult Export(in Batch<Metric> batch)
        {
            var text = new StringBuilder();
            foreach (var metric in batch)
            {
                PrometheusText.Write(text, metric);
            }

            Last = text.ToString();
            return ExportResult.Success;
        }
    }
}
