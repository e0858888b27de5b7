using System.Text.RegularExpressions;
using BulkDispatch.Core.Configuration;
using Microsoft.Extensions.Configuration;
using static BulkDispatch.Core.Configuration.SettingsBinder;

namespace BulkDispatch.Flush.Credentials;

/// <summary>The <c>BulkDispatch__KeyVault__*</c> settings' rules, which apply when <c>BulkDispatch__Aws__Credentials</c> is <c>KeyVault</c>.</summary>
/// <param name="configuration">The configuration the options bind from; it also says which credential source is selected.</param>
internal sealed partial class KeyVaultOptionsValidator(IConfiguration? configuration) : SettingsValidator<KeyVaultOptions>(configuration)
{

    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        [nameof(KeyVaultOptions.VaultUri)] = "https://my-vault.vault.azure.net/",
        [nameof(KeyVaultOptions.AccessKeyIdSecret)] = "aws-access-key-id",
        [nameof(KeyVaultOptions.SecretAccessKeySecret)] = "aws-secret-access-key",
        [nameof(KeyVaultOptions.SessionTokenSecret)] = "aws-session-token",
        [nameof(KeyVaultOptions.RefreshInterval)] = "00:15:00",
    };

    protected override IEnumerable<(string Section, Type Type, IReadOnlyDictionary<string, string> Examples)> Sources =>
        [(KeyVaultOptions.Section, typeof(KeyVaultOptions), Examples)];

    protected override IEnumerable<string> Rules(KeyVaultOptions o)
    {
        var selected = new AwsCredentialsOptions { Credentials = Configuration?[AwsCredentialsOptions.Section + ":Credentials"] ?? nameof(AwsCredentialSource.Default) };
        if (selected.Source != AwsCredentialSource.KeyVault)
        {
            yield break;
        }

        if (string.IsNullOrWhiteSpace(o.VaultUri))
        {
            yield return $"BulkDispatch__KeyVault__VaultUri: not set, but BulkDispatch__Aws__Credentials is KeyVault. Example: {Examples[nameof(o.VaultUri)]}.";
        }
        else if (o.VaultUriOrNull() is null)
        {
            yield return $"BulkDispatch__KeyVault__VaultUri: {Show(o.VaultUri)} is not an https URL of a vault. Example: {Examples[nameof(o.VaultUri)]}.";
        }

        foreach (var (setting, name, required) in new[]
                 {
                     (nameof(o.AccessKeyIdSecret), o.AccessKeyIdSecret, true),
                     (nameof(o.SecretAccessKeySecret), o.SecretAccessKeySecret, true),
                     (nameof(o.SessionTokenSecret), o.SessionTokenSecret, false),
                 })
        {
            if (string.IsNullOrWhiteSpace(name) ? required : !SecretName().IsMatch(name))
            {
                yield return $"BulkDispatch__KeyVault__{setting}: {Show(name)} is not a Key Vault secret name (1-127 letters, digits and dashes). Example: {Examples[setting]}.";
            }
        }

        if (o.RefreshInterval < TimeSpan.FromSeconds(1) || o.RefreshInterval > TimeSpan.FromDays(1))
        {
            yield return $"BulkDispatch__KeyVault__RefreshInterval: {o.RefreshInterval} is outside 00:00:01 to 1.00:00:00. Example: {Examples[nameof(o.RefreshInterval)]}.";
        }
    }

    [GeneratedRegex("^[0-9A-Za-z-]{1,127}$")]
    private static partial Regex SecretName();
}
