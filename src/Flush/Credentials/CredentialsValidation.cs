using System.Text.RegularExpressions;

namespace BulkDispatch.Flush.Credentials;

/// <summary>The credential settings' rules, in the style of <c>SettingsValidation</c>: every problem, each naming its setting with an example.</summary>
internal static partial class CredentialsValidation
{
    /// <summary>The AWS SDK's environment credentials, checked for unresolved Key Vault references in <c>Default</c> mode.</summary>
    internal static readonly string[] AwsEnvironmentVariables = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

    private const string KeyVaultReferencePrefix = "@Microsoft.KeyVault(";

    public static IEnumerable<string> Validate(AwsCredentialsOptions aws, KeyVaultOptions keyVault, Func<string, string?> environment)
    {
        switch (aws.Source)
        {
            case null:
                yield return $"BulkDispatch__Aws__Credentials: '{Show(aws.Credentials)}' is not a credential source; use Default (the AWS SDK chain), KeyVault or WebIdentity. Example: KeyVault.";
                break;
            case AwsCredentialSource.Default:
                // A reference App Service could not resolve reaches the AWS SDK as literal text: say so instead of a confusing AWS auth error.
                foreach (var name in AwsEnvironmentVariables.Where(n => IsKeyVaultReference(environment(n))))
                {
                    yield return $"{name}: the Key Vault reference did not resolve (the app received the literal '@Microsoft.KeyVault(...)' text, not the secret). " +
                                 "Check that the app's managed identity is on, that it has the 'Key Vault Secrets User' role on the vault, and that the reference's SecretUri is right (Azure portal: Environment variables, the reference's status).";
                }

                break;
            case AwsCredentialSource.KeyVault:
                foreach (var error in ValidateKeyVault(keyVault))
                {
                    yield return error;
                }

                break;
            case AwsCredentialSource.WebIdentity:
                foreach (var error in ValidateWebIdentity(aws))
                {
                    yield return error;
                }

                break;
        }
    }

    /// <summary>The vault URI as a <see cref="Uri"/>, or null when it is missing or not an https URL.</summary>
    internal static Uri? VaultUri(KeyVaultOptions o) =>
        Uri.TryCreate(o.VaultUri?.Trim(), UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.Host.Length > 0 ? uri : null;

    private static IEnumerable<string> ValidateKeyVault(KeyVaultOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.VaultUri))
        {
            yield return "BulkDispatch__KeyVault__VaultUri: not set, but BulkDispatch__Aws__Credentials is KeyVault. Example: https://my-vault.vault.azure.net/.";
        }
        else if (VaultUri(o) is null)
        {
            yield return $"BulkDispatch__KeyVault__VaultUri: '{Show(o.VaultUri)}' is not an https URL of a vault. Example: https://my-vault.vault.azure.net/.";
        }

        foreach (var (setting, name, required) in new[]
                 {
                     ("AccessKeyIdSecret", o.AccessKeyIdSecret, true),
                     ("SecretAccessKeySecret", o.SecretAccessKeySecret, true),
                     ("SessionTokenSecret", o.SessionTokenSecret, false),
                 })
        {
            if (string.IsNullOrWhiteSpace(name) ? required : !SecretName().IsMatch(name))
            {
                yield return $"BulkDispatch__KeyVault__{setting}: '{Show(name)}' is not a Key Vault secret name (1-127 letters, digits and dashes). Example: aws-access-key-id.";
            }
        }

        if (o.RefreshInterval < TimeSpan.FromSeconds(1) || o.RefreshInterval > TimeSpan.FromDays(1))
        {
            yield return $"BulkDispatch__KeyVault__RefreshInterval: {o.RefreshInterval} is outside 00:00:01 to 1.00:00:00. Example: 00:15:00.";
        }
    }

    private static IEnumerable<string> ValidateWebIdentity(AwsCredentialsOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.RoleArn))
        {
            yield return "BulkDispatch__Aws__RoleArn: not set, but BulkDispatch__Aws__Credentials is WebIdentity. Example: arn:aws:iam::123456789012:role/bulkdispatch-flush.";
        }
        else if (!RoleArn().IsMatch(o.RoleArn.Trim()))
        {
            yield return $"BulkDispatch__Aws__RoleArn: '{Show(o.RoleArn)}' is not an IAM role ARN. Example: arn:aws:iam::123456789012:role/bulkdispatch-flush.";
        }

        if (string.IsNullOrWhiteSpace(o.WebIdentityAudience))
        {
            yield return "BulkDispatch__Aws__WebIdentityAudience: not set, but BulkDispatch__Aws__Credentials is WebIdentity; it is the Entra ID application the role's trust policy accepts. Example: api://AzureADTokenExchange.";
        }

        if (string.IsNullOrWhiteSpace(o.RoleSessionName) || !SessionName().IsMatch(o.RoleSessionName))
        {
            yield return $"BulkDispatch__Aws__RoleSessionName: '{Show(o.RoleSessionName)}' must be 2-64 letters, digits or =,.@- characters. Example: bulkdispatch-flush.";
        }

        if (o.SessionDuration < TimeSpan.FromMinutes(15) || o.SessionDuration > TimeSpan.FromHours(12))
        {
            yield return $"BulkDispatch__Aws__SessionDuration: {o.SessionDuration} is outside 00:15:00 to 12:00:00 (the STS limits). Example: 01:00:00.";
        }

        if (!string.IsNullOrWhiteSpace(o.StsServiceUrl) && !(Uri.TryCreate(o.StsServiceUrl, UriKind.Absolute, out var sts) && (sts.Scheme == Uri.UriSchemeHttps || sts.Scheme == Uri.UriSchemeHttp)))
        {
            yield return $"BulkDispatch__Aws__StsServiceUrl: '{Show(o.StsServiceUrl)}' is not an http(s) URL. Example: https://sts.us-west-2.amazonaws.com.";
        }

        if (!string.IsNullOrWhiteSpace(o.StsRegion) && Amazon.RegionEndpoint.GetBySystemName(o.StsRegion).DisplayName.Contains("Unknown", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"BulkDispatch__Aws__StsRegion: '{Show(o.StsRegion)}' is not an AWS region. Example: us-west-2.";
        }
    }

    internal static bool IsKeyVaultReference(string? value) =>
        value is not null && value.TrimStart().StartsWith(KeyVaultReferencePrefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>A value for an error message; an unresolved Key Vault reference is reported on its own and not repeated.</summary>
    private static string Show(string? value) => IsKeyVaultReference(value) ? "(an unresolved Key Vault reference)" : value ?? "";

    [GeneratedRegex(@"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")]
    private static partial Regex RoleArn();

    [GeneratedRegex("^[0-9A-Za-z-]{1,127}$")]
    private static partial Regex SecretName();

    [GeneratedRegex(@"^[\w+=,.@-]{2,64}$")]
    private static partial Regex SessionName();
}
