using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;

namespace BulkDispatch.FlushFunction;

/// <summary>
/// The worker's own log levels. The isolated worker is a process of its own: host.json's <c>logging</c> section does
/// not filter what it emits, and the host re-logs every line it receives under the function's category (Application
/// Insights bills each). The Event API client logs four Information lines per request and its resilience pipeline one
/// per attempt; these defaults keep those out and keep warnings (retries, an open circuit) and the run's report.
/// </summary>
internal static class WorkerLogLevels
{
    /// <summary>Categories and their minimum level, as configuration keys.</summary>
    internal static readonly IReadOnlyDictionary<string, string?> Defaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        ["Logging:LogLevel:Polly"] = "Warning",
    };

    /// <summary>
    /// Adds <see cref="Defaults"/> as the first (lowest-priority) configuration source, so an app setting such as
    /// <c>Logging__LogLevel__System.Net.Http.HttpClient=Information</c> still overrides them.
    /// </summary>
    public static void AddDefaults(IConfigurationBuilder configuration) =>
        configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Defaults });
}
