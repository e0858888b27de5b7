using BulkDispatch.Core.Configuration;
using Microsoft.Extensions.Configuration;
using static BulkDispatch.Core.Configuration.SettingsBinder;

namespace BulkDispatch.Flush.Configuration;

/// <summary>The <c>BulkDispatch__Optimizely__*</c> settings' rules: endpoints that are http(s) URLs, retries and timeouts within bounds.</summary>
internal sealed class OptimizelyOptionsValidator(IConfiguration? configuration) : SettingsValidator<OptimizelyOptions>(configuration)
{
    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        [nameof(OptimizelyOptions.EndpointOverride)] = "http://127.0.0.1:8080/v1/events",
        [nameof(OptimizelyOptions.AllowedEndpoints)] = $"{OptimizelyOptions.UsEndpoint},{OptimizelyOptions.EuEndpoint}",
        [nameof(OptimizelyOptions.Strict)] = "true",
        [nameof(OptimizelyOptions.MaxRetries)] = "4",
        [nameof(OptimizelyOptions.RetryBaseDelay)] = "00:00:01",
        [nameof(OptimizelyOptions.AttemptTimeout)] = "00:00:30",
        [nameof(OptimizelyOptions.CircuitBreakDuration)] = "00:00:30",
    };

    protected override IEnumerable<(string Section, Type Type, IReadOnlyDictionary<string, string> Examples)> Sources =>
        [(OptimizelyOptions.Section, typeof(OptimizelyOptions), Examples)];

    protected override IEnumerable<string> Rules(OptimizelyOptions o)
    {
        if (!string.IsNullOrWhiteSpace(o.EndpointOverride) && !IsHttpUrl(o.EndpointOverride))
        {
            yield return $"BulkDispatch__Optimizely__EndpointOverride: {Show(o.EndpointOverride)} is not an http(s) URL. Example: {Examples[nameof(o.EndpointOverride)]}.";
        }

        if (!string.IsNullOrWhiteSpace(o.AllowedEndpoints))
        {
            var bad = o.AllowedEndpoints
                .Split([',', ';', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(u => !IsHttpUrl(u))
                .ToList();
            if (bad.Count > 0)
            {
                yield return $"BulkDispatch__Optimizely__AllowedEndpoints: {string.Join(", ", bad.Select(Show))} is not an http(s) URL. Example: {Examples[nameof(o.AllowedEndpoints)]}.";
            }
        }

        if (o.MaxRetries is < 0 or > 20)
        {
            yield return $"BulkDispatch__Optimizely__MaxRetries: {o.MaxRetries} is outside 0 to 20. Example: {Examples[nameof(o.MaxRetries)]}.";
        }

        if (o.RetryBaseDelay < TimeSpan.FromMilliseconds(1) || o.RetryBaseDelay > TimeSpan.FromMinutes(1))
        {
            yield return $"BulkDispatch__Optimizely__RetryBaseDelay: {o.RetryBaseDelay} is outside 00:00:00.001 to 00:01:00. Example: {Examples[nameof(o.RetryBaseDelay)]}.";
        }

        if (o.AttemptTimeout < TimeSpan.FromMilliseconds(100) || o.AttemptTimeout > TimeSpan.FromMinutes(5))
        {
            yield return $"BulkDispatch__Optimizely__AttemptTimeout: {o.AttemptTimeout} is outside 00:00:00.1 to 00:05:00. Example: {Examples[nameof(o.AttemptTimeout)]}.";
        }

        if (o.CircuitBreakDuration < TimeSpan.FromMilliseconds(500) || o.CircuitBreakDuration > TimeSpan.FromHours(1))
        {
            yield return $"BulkDispatch__Optimizely__CircuitBreakDuration: {o.CircuitBreakDuration} is outside 00:00:00.5 to 01:00:00. Example: {Examples[nameof(o.CircuitBreakDuration)]}.";
        }
    }
}
