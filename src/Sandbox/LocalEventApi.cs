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
/// every request and answers 204, or what its <see cref="Responder"/> decides (the tests' fault injection).
/// </summary>
public sealed class LocalEventApi : IAsyncDisposable
{
    /// <summary>The largest body accepted; well above the real API's 3.5 MB so oversize batches are visible.</summary>
    internal const long MaxRequestBodyBytes = 16 * 1024 * 1024;

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;
    private readonly EventBatchSchema _schema;
    private readonly TimeProvider _timeProvider = TimeProvider.System; // stamps ReceivedAt
    private readonly Lock _gate = new();
    private readonly List<EventApiRequest> _requests = [];
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

    /// <summary>Answers each schema-valid request; by default 204, as Optimizely does. Not changed by <see cref="Reset"/>.</summary>
    public IEventApiResponder Responder { get; set; } = AcceptingResponder.Instance;

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
        catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await app.DisposeAsync();
            throw new SandboxSetupException(
                SandboxSetupProblem.PortInUse,
                string.Create(CultureInfo.InvariantCulture, $"Port {port} is already in use, so the local Event API cannot listen on it."),
                ex);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
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

    /// <summary>Forgets recorded requests and the schema failure count; restarts the sequence.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _requests.Clear();
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
        var exchange = new EventApiExchange(context, received, Counts);
        if (received.SchemaError is not null)
        {
            Interlocked.Increment(ref _schemaFailures);
            await exchange.AnswerAsync(StatusCodes.Status400BadRequest, received.SchemaError);
            return;
        }

        await Responder.RespondAsync(exchange);
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
                Query = context.Request.QueryString.Value ?? string.Empty,
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
                Query = context.Request.QueryString.Value ?? string.Empty,
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
