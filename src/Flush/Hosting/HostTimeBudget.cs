using System.Globalization;
using System.Text.Json;
using BulkDispatch.Flush.Configuration;

namespace BulkDispatch.Flush.Hosting;

/// <summary>
/// Fits a run inside a host that kills its function after <c>functionTimeout</c> (Azure Functions).
/// The host does cancel the invocation then (the isolated worker cancels the function's token on the
/// host's <c>InvocationCancel</c>), but it may restart the worker right after, so the run must end on
/// its own deadline first: receiving stops early enough that <c>SendGrace</c> and a margin for
/// start-up and the report still fit.
/// </summary>
public static class HostTimeBudget
{
    /// <summary>The app setting that overrides host.json's <c>functionTimeout</c>.</summary>
    public const string FunctionTimeoutOverride = "AzureFunctionsJobHost__functionTimeout";

    /// <summary>The Consumption plan's default, assumed when host.json states none (the strictest plan default).</summary>
    public static readonly TimeSpan DefaultFunctionTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Time kept for start-up, queue description and the report.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(15);

    /// <summary>The shortest receive budget worth starting a run for.</summary>
    public static readonly TimeSpan MinimumReceiveBudget = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The host's function timeout: <paramref name="overrideValue"/> when set, else host.json's
    /// <c>functionTimeout</c>, else <see cref="DefaultFunctionTimeout"/>. <c>null</c> means unbounded (<c>-1</c>).
    /// </summary>
    /// <exception cref="BulkDispatchConfigurationException">A value that is not a time span.</exception>
    public static TimeSpan? ReadFunctionTimeout(string? overrideValue, string? hostJson)
    {
        if (!string.IsNullOrWhiteSpace(overrideValue))
        {
            return Parse(overrideValue, FunctionTimeoutOverride);
        }

        if (string.IsNullOrWhiteSpace(hostJson))
        {
            return DefaultFunctionTimeout;
        }

        using var document = JsonDocument.Parse(hostJson, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty("functionTimeout", out var value)
            && value.ValueKind == JsonValueKind.String
            ? Parse(value.GetString()!, "functionTimeout in host.json")
            : DefaultFunctionTimeout;
    }

    /// <summary>
    /// The receive budget for one run under <paramref name="functionTimeout"/>: the function timeout less
    /// <see cref="FlushOptions.SendGrace"/> and <see cref="Margin"/>, or <c>null</c> (the configured
    /// <see cref="FlushOptions.MaxDuration"/>) when that is shorter or the host sets no timeout.
    /// </summary>
    /// <exception cref="BulkDispatchConfigurationException">The timeout leaves no time to receive.</exception>
    public static TimeSpan? ReceiveBudget(TimeSpan? functionTimeout, FlushOptions flush)
    {
        ArgumentNullException.ThrowIfNull(flush);
        if (functionTimeout is not { } timeout)
        {
            return null;
        }

        var budget = timeout - flush.SendGrace - Margin;
        if (budget < MinimumReceiveBudget)
        {
            throw new BulkDispatchConfigurationException(string.Create(CultureInfo.InvariantCulture,
                $"functionTimeout ({timeout:c}) leaves less than {MinimumReceiveBudget.TotalSeconds:0} s to receive after BulkDispatch__Flush__SendGrace ({flush.SendGrace:c}) and a {Margin.TotalSeconds:0} s margin: raise functionTimeout in host.json (e.g. \"00:05:00\") or lower BulkDispatch__Flush__SendGrace."));
        }

        return budget < flush.MaxDuration ? budget : null;
    }

    private static TimeSpan? Parse(string text, string source)
    {
        if (text.Trim() == "-1")
        {
            return null;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value > TimeSpan.Zero
            ? value
            : throw new BulkDispatchConfigurationException($"{source} is not a time span: use hh:mm:ss, e.g. \"00:05:00\", or -1 for no limit.");
    }
}
