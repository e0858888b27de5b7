using BulkDispatch.Core.Wire;

namespace BulkDispatch.Flush.Configuration;

/// <summary>
/// The EventBatch header for legacy messages of the Python reference producer, which carry
/// only the visitor: the <c>BulkDispatch__Legacy__*</c> settings.
/// </summary>
public sealed class LegacyOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "BulkDispatch:Legacy";

    /// <summary>The Optimizely account id.</summary>
    public string? AccountId { get; set; }

    /// <summary>The Optimizely project id.</summary>
    public string? ProjectId { get; set; }

    /// <summary>The client name the old producer reported.</summary>
    public string? ClientName { get; set; }

    /// <summary>The client version the old producer reported.</summary>
    public string? ClientVersion { get; set; }

    /// <summary>The Event API URL legacy events go to.</summary>
    public string Url { get; set; } = OptimizelyOptions.UsEndpoint;

    /// <summary>The <c>anonymize_ip</c> field of the header.</summary>
    public bool AnonymizeIp { get; set; } = true;

    /// <summary>The <c>enrich_decisions</c> field of the header.</summary>
    public bool EnrichDecisions { get; set; } = true;

    /// <summary>The names of the settings a legacy header still needs, joined for a message; empty when complete.</summary>
    internal string MissingSettings()
    {
        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(AccountId)) missing.Add("BulkDispatch__Legacy__AccountId");
        if (string.IsNullOrWhiteSpace(ProjectId)) missing.Add("BulkDispatch__Legacy__ProjectId");
        if (string.IsNullOrWhiteSpace(ClientName)) missing.Add("BulkDispatch__Legacy__ClientName");
        if (string.IsNullOrWhiteSpace(ClientVersion)) missing.Add("BulkDispatch__Legacy__ClientVersion");
        return missing.Count switch
        {
            0 => "",
            1 => missing[0] + " is",
            _ => string.Join(", ", missing) + " are",
        };
    }

    internal LegacyHeader? ToHeader() => MissingSettings().Length > 0
        ? null
        : new LegacyHeader(Url, AccountId!, ProjectId!, ClientName!, ClientVersion!, AnonymizeIp, EnrichDecisions);
}
