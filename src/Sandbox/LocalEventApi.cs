using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Sandbox;

/// <summary>
/// A real HTTP server on loopback that plays Optimizely's Event API (<c>POST /v1/events</c>, or any
/// path ending in <c>/events</c>): it validates every body against the EventBatch schema, records
/// every request, answers 204, and misbehaves on demand through <see cref="FailNext"/> and
/// <see cref="FaultPolicy"/>.
/// </summary>
internal sealed class LocalEventApi : IAsyncDisposable
{
    /// <summary>The largest body accepted; well above the real API's 3.5 MB so oversize batches are visible.</summary>
    internal const long MaxRequestBodyBytes = 16 * 1024 * 1024;

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;
    private readonly EventBatchSchema _schema;
    private readonly TimeProvider _timeProvider = TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly List<EventApiRequest> _requests = [];
    private readonly Queue<EventApiFault> _queuedFaults = new();
    private int _sequence;
    private int _schemaFailures;
    private int _disposed;

    private LocalEventApi(WebApplication app, EventBatchSchema schema)
    {
        _app = app;
        _schema = schema;
    }

    /// <summary>The endpoint to send batches to: <c>http://127.0.0.1:PORT/v1/events</c>.</summary>
    public Uri EventsUrl { get; private set; } = null!;

    /// <summary>
    /// Consulted for each schema-valid request (after any <see cref="FailNext"/> faults are used up);
    /// returning <see langword="null"/> means the normal 204. Not cleared by <see cref="Reset"/>.
    /// </summary>
    public Func<EventApiRequest, EventApiFault?>? FaultPolicy { get; set; }

    /// <summary>
    /// Validate each body against the EventBatch schema (default). Benchmarks turn it off: on a
    /// 2-core machine validating multi-megabyte bodies costs more CPU than the flush itself.
    /// </summary>
    public bool ValidateSchema { get; set; } = true;

    /// <summary>
    /// Keep every request (body, visitors) for inspection (default). Off, only <see cref="Counts"/> is
    /// kept: a 1,000,000-event benchmark would otherwise hold gigabytes of bodies in this process.
    /// </summary>
    public bool RetainRequests { get; set; } = true;

    /// <summary>Running totals, kept whether or not requests are retained.</summary>
    public EventApiCounts Counts { get; } = new();

    /// <summary>A snapshot of every request received, in arrival order.</summary>
    public IReadOnlyList<EventApiRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>A snapshot of the requests answered with a 2xx status.</summary>
    public IReadOnlyList<EventApiRequest> AcceptedRequests => [.. Requests.Where(r => r.Accepted)];

    /// <summary>How many requests were rejected because the body was not JSON or not an EventBatch.</summary>
    public int SchemaFailures => Volatile.Read(ref _schemaFailures);

    /// <summary>Starts the server on a free loopback port, logging nothing.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static Task<LocalEventApi> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(loggerFactory: null, cancellationToken);

    /// <summary>Starts the server on a free loopback port.</summary>
    /// <param name="loggerFactory">Where the server logs; nothing is logged when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static Task<LocalEventApi> StartAsync(ILoggerFactory? loggerFactory, CancellationToken cancellationToken = default) =>
        StartAsync(loggerFactory, port: 0, cancellationToken);

    /// <summary>Starts the server on a loopback port.</summary>
    /// <param name="loggerFactory">Where the server logs; nothing is logged when <see langword="null"/>.</param>
    /// <param name="port">The port to listen on (0: a free one).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<LocalEventApi> StartAsync(ILoggerFactory? loggerFactory, int port, CancellationToken cancellationToken = default)
    {
        var schema = await EventBatchSchema.GetAsync().WaitAsync(cancellationToken);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(LocalEventApi).Assembly.GetName().Name,
            EnvironmentName = Environments.Production,
            ContentRootPath = AppContext.BaseDirectory,
        });

        // Ignore the host's appsettings and ASPNETCORE_* variables (e.g. a Kestrel section or URLs
        // meant for the app that embeds us); this server is configured in code only.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        // The default console lifetime would take over Ctrl+C and SIGTERM from the embedding app.
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            options.Listen(IPAddress.Loopback, port);
        });

        var app = builder.Build();
        var api = new LocalEventApi(app, schema);
        app.Run(api.HandleAsync);

        try
        {
            await app.StartAsync(cancellationToken);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                ?? throw new InvalidOperationException("Kestrel started but reported no listening address.");
            int listening = new Uri(address).Port;
            api.EventsUrl = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{listening}/v1/events"));
            return api;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Queues faults for the next requests: each schema-valid request takes the next one, before
    /// <see cref="FaultPolicy"/> is consulted, until the queue is empty.
    /// </summary>
    public void FailNext(params EventApiFault[] faults)
    {
        ArgumentNullException.ThrowIfNull(faults);
        lock (_gate)
        {
            foreach (var fault in faults)
            {
                ArgumentNullException.ThrowIfNull(fault);
                _queuedFaults.Enqueue(fault);
            }
        }
    }

    /// <summary>
    /// Removes and returns the requests whose outcome is known (answered, or given up), keeping those still
    /// being handled, so a long run can read them as it goes instead of holding every body to the end.
    /// </summary>
    public IReadOnlyList<EventApiRequest> TakeAnswered()
    {
        lock (_gate)
        {
            var answered = new List<EventApiRequest>();
            var pending = new List<EventApiRequest>();
            foreach (var request in _requests)
            {
                // Status is read once per request, so each lands in exactly one list.
                (request.Status != 0 ? answered : pending).Add(request);
            }

            _requests.Clear();
            _requests.AddRange(pending);
            return answered;
        }
    }

    /// <summary>Forgets recorded requests, the schema failure count and queued faults; restarts the sequence.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _requests.Clear();
            _queuedFaults.Clear();
            _sequence = 0;
            Volatile.Write(ref _schemaFailures, 0);
            Counts.Reset();
        }
    }

    /// <summary>Stops the server.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method)
            || !request.Path.HasValue
            || !request.Path.Value.TrimEnd('/').EndsWith("/events", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = HttpMethods.IsPost(request.Method) ? StatusCodes.Status404NotFound : StatusCodes.Status405MethodNotAllowed;
            return;
        }

        byte[] body;
        using (var buffer = new MemoryStream())
        {
            await request.Body.CopyToAsync(buffer, context.RequestAborted);
            body = buffer.ToArray();
        }

        var received = Inspect(context, body);
        if (received.SchemaError is not null)
        {
            Interlocked.Increment(ref _schemaFailures);
            await AnswerAsync(context, received, StatusCodes.Status400BadRequest, received.SchemaError, retryAfterSeconds: null);
            return;
        }

        EventApiFault? fault;
        try
        {
            fault = NextQueuedFault() ?? FaultPolicy?.Invoke(received);
        }
        catch (Exception ex)
        {
            // A broken policy is a test bug; make it loud in the answer instead of a bare 500.
            await AnswerAsync(context, received, StatusCodes.Status500InternalServerError, "FaultPolicy threw: " + ex, retryAfterSeconds: null);
            return;
        }

        await ApplyAsync(context, received, fault);
    }

    private async Task ApplyAsync(HttpContext context, EventApiRequest received, EventApiFault? fault)
    {
        switch (fault?.Kind)
        {
            case null:
                await AnswerAsync(context, received, StatusCodes.Status204NoContent, body: null, retryAfterSeconds: null);
                break;
            case EventApiFaultKind.Status:
                await AnswerAsync(context, received, fault.StatusCode, fault.Body, fault.RetryAfterSeconds);
                break;
            case EventApiFaultKind.Delay:
                try
                {
                    await Task.Delay(fault.DelayDuration, _timeProvider, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    // The client gave up (its timeout or cancellation) before we answered.
                    received.Status = EventApiRequest.NoAnswer;
                    return;
                }

                await ApplyAsync(context, received, fault.Then);
                break;
            case EventApiFaultKind.DropConnection:
                received.Status = EventApiRequest.NoAnswer;
                context.Abort();
                break;
            default:
                throw new InvalidOperationException($"Unknown fault kind {fault.Kind}.");
        }
    }

    private async Task AnswerAsync(HttpContext context, EventApiRequest received, int status, string? body, long? retryAfterSeconds)
    {
        // Recorded before the answer leaves, so a client holding the answer never sees Status = 0.
        received.Status = status;
        Counts.Record(received, status is >= 200 and < 300);
        var response = context.Response;
        response.StatusCode = status;
        if (retryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        if (body is not null && status != StatusCodes.Status204NoContent)
        {
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync(body, context.RequestAborted);
        }
    }

    private EventApiFault? NextQueuedFault()
    {
        lock (_gate)
        {
            return _queuedFaults.TryDequeue(out var fault) ? fault : null;
        }
    }

    private EventApiRequest Inspect(HttpContext context, byte[] body)
    {
        var receivedAt = _timeProvider.GetUtcNow();
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in context.Request.Headers)
        {
            headers[name] = values.ToString();
        }

        var visitorJson = new List<string>();
        var visitorIds = new List<string>();
        var headerJson = string.Empty;
        string? schemaError;
        if (!RetainRequests)
        {
            // Counting mode: only the uuids and sizes are kept, see EventApiCounts.
            return new EventApiRequest(Interlocked.Increment(ref _sequence), receivedAt, context.Request.Path.Value ?? string.Empty, headers, [], visitorJson, visitorIds, headerJson, null)
            {
                Uuids = EventApiCounts.ReadUuids(body, out int visitors, out schemaError),
                VisitorCount = visitors,
                BodyLength = body.Length,
            };
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            headerJson = ReadBatch(document.RootElement, visitorJson, visitorIds);
            schemaError = ValidateSchema ? _schema.Validate(Encoding.UTF8.GetString(body)) : null;
        }
        catch (JsonException ex)
        {
            schemaError = "Body is not valid JSON: " + ex.Message;
        }

        lock (_gate)
        {
            var request = new EventApiRequest(
                ++_sequence,
                receivedAt,
                context.Request.Path.Value ?? string.Empty,
                headers,
                body,
                visitorJson,
                visitorIds,
                headerJson,
                schemaError)
            {
                VisitorCount = visitorJson.Count,
                BodyLength = body.Length,
            };
            _requests.Add(request);
            return request;
        }
    }

    /// <summary>
    /// Collects each visitor's raw JSON and id, tolerating bodies that will fail the schema, and returns
    /// the canonical header string.
    /// </summary>
    private static string ReadBatch(JsonElement root, List<string> visitorJson, List<string> visitorIds)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return string.Empty;
        }

        var header = new List<(string Name, string Raw)>();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("visitors"))
            {
                if (property.Value.ValueKind != JsonValueKind.Array)
                {
                    continue;
                }

                foreach (var visitor in property.Value.EnumerateArray())
                {
                    visitorJson.Add(visitor.GetRawText());
                    visitorIds.Add(
                        visitor.ValueKind == JsonValueKind.Object
                        && visitor.TryGetProperty("visitor_id", out var id)
                        && id.ValueKind == JsonValueKind.String
                            ? id.GetString()!
                            : string.Empty);
                }
            }
            else
            {
                header.Add((property.Name, property.Value.GetRawText()));
            }
        }

        header.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return "{" + string.Join(",", header.Select(p => JsonSerializer.Serialize(p.Name) + ":" + p.Raw)) + "}";
    }

    /// <summary>A host lifetime that leaves process signals to the application embedding the server.</summary>
    private sealed class EmbeddedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
