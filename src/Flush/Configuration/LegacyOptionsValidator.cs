using BulkDispatch.Core.Configuration;
using Microsoft.Extensions.Configuration;

namespace BulkDispatch.Flush.Configuration;

/// <summary>
/// The <c>BulkDispatch__Legacy__*</c> settings: only values that cannot be read are errors here. Missing header fields
/// are not: they matter only when a legacy message arrives, which is then dead-lettered naming them.
/// </summary>
internal sealed class LegacyOptionsValidator(IConfiguration? configuration) : SettingsValidator<LegacyOptions>(configuration)
{
    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        [nameof(LegacyOptions.AccountId)] = "12345678901",
        [nameof(LegacyOptions.ProjectId)] = "23456789012",
        [nameof(LegacyOptions.ClientName)] = "python-sdk",
        [nameof(LegacyOptions.ClientVersion)] = "5.0.1",
        [nameof(LegacyOptions.Url)] = OptimizelyOptions.UsEndpoint,
        [nameof(LegacyOptions.AnonymizeIp)] = "true",
        [nameof(LegacyOptions.EnrichDecisions)] = "true",
    };

    protected override IEnumerable<(string Section, Type Type, IReadOnlyDictionary<string, string> Examples)> Sources =>
        [(LegacyOptions.Section, typeof(LegacyOptions), Examples)];

    protected override IEnumerable<string> Rules(LegacyOptions options) => [];
}
