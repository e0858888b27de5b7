namespace BulkDispatch.Flush.Configuration;

/// <summary>Where and how events are sent: the <c>BulkDispatch__Optimizely__*</c> settings.</summary>
public sealed class OptimizelyOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "BulkDispatch:Optimizely";

    /// <summary>The Event API endpoint in the US.</summary>
    public const string UsEndpoint = "https://logx.optimizely.com/v1/events";

    /// <summary>The Event API endpoint in the EU.</summary>
    public const string EuEndpoint = "https://eu.logx.optimizely.com/v1/events";

    /// <summary>Send every request here instead of the event's own URL (tests, proxies). The event URL must still be allowed.</summary>
    public string? EndpointOverride { get; set; }

    /// <summary>Comma-separated event URLs that may be delivered; events for any other URL are dead-lettered. Default: the US and EU endpoints.</summary>
    public string? AllowedEndpoints { get; set; }

    /// <summary>Send <c>X-Optimizely-Strict: true</c>, so Optimizely answers 400 instead of dropping bad events silently.</summary>
    public bool Strict { get; set; }

    /// <summary>Retries of a request after a transient failure (5xx, 408, 429, connection errors, timeouts).</summary>
    public int MaxRetries { get; set; } = 4;

    /// <summary>The first retry delay; later ones grow exponentially, with jitter. A Retry-After answer overrides it.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Timeout of one attempt of one request.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the circuit stays open after it breaks.</summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The allow-list as absolute URIs.</summary>
    internal IReadOnlyList<Uri> AllowedEndpointUris() =>
        (string.IsNullOrWhiteSpace(AllowedEndpoints) ? $"{UsEndpoint},{EuEndpoint}" : AllowedEndpoints)
            .Split([',', ';', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : null)
            .OfType<Uri>()
            .ToList();
}
