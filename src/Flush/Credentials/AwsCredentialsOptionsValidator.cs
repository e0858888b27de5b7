using System.Text.RegularExpressions;
using BulkDispatch.Core.Configuration;
using Microsoft.Extensions.Configuration;
using static BulkDispatch.Core.Configuration.SettingsBinder;

namespace BulkDispatch.Flush.Credentials;

/// <summary>The <c>BulkDispatch__Aws__*</c> settings' rules: a known credential source, and what that source needs.</summary>
/// <param name="configuration">The configuration the options bind from; null for options made in code.</param>
/// <param name="environment">Reads an environment variable (the AWS SDK reads <c>AWS_*</c> from the process environment).</param>
internal sealed partial class AwsCredentialsOptionsValidator(IConfiguration? configuration, Func<string, string?> environment)
    : SettingsValidator<AwsCredentialsOptions>(configuration)
{
    /// <summary>The AWS SDK's environment credentials, checked for unresolved Key Vault references in <c>Default</c> mode.</summary>
    internal static readonly string[] AwsEnvironmentVariables = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        [nameof(AwsCredentialsOptions.Credentials)] = "KeyVault",
        [nameof(AwsCredentialsOptions.RoleArn)] = "arn:aws:iam::123456789012:role/bulkdispatch-flush",
        [nameof(AwsCredentialsOptions.WebIdentityAudience)] = "api://AzureADTokenExchange",
        [nameof(AwsCredentialsOptions.RoleSessionName)] = "bulkdispatch-flush",
        [nameof(AwsCredentialsOptions.SessionDuration)] = "01:00:00",
        [nameof(AwsCredentialsOptions.StsServiceUrl)] = "https://sts.us-west-2.amazonaws.com",
        [nameof(AwsCredentialsOptions.StsRegion)] = "us-west-2",
    };

    protected override IEnumerable<(string Section, Type Type, IReadOnlyDictionary<string, string> Examples)> Sources =>
        [(AwsCredentialsOptions.Section, typeof(AwsCredentialsOptions), Examples)];

    protected override IEnumerable<string> Rules(AwsCredentialsOptions options)
    {
        switch (options.Source)
        {
            case null:
                yield return $"BulkDispatch__Aws__Credentials: {Show(options.Credentials)} is not a credential source; use Default (the AWS SDK chain), KeyVault or WebIdentity. Example: KeyVault.";
                break;
            case AwsCredentialSource.Default:
                // A reference App Service could not resolve reaches the AWS SDK as literal text: say so instead of a confusing AWS auth error.
                foreach (var name in AwsEnvironmentVariables.Where(n => IsKeyVaultReference(environment(n))))
                {
                    yield return $"{name}: the Key Vault reference did not resolve (the app received the literal '@Microsoft.KeyVault(...)' text, not the secret). " +
                                 "Check that the app's managed identity is on, that it has the 'Key Vault Secrets User' role on the vault, and that the reference's SecretUri is right (Azure portal: Environment variables, the reference's status).";
                }

                break;
            case AwsCredentialSource.WebIdentity:
                foreach (var error in WebIdentity(options))
                {
                    yield return error;
                }

                break;
        }
    }

    private static IEnumerable<string> WebIdentity(AwsCredentialsOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.RoleArn))
        {
            yield return $"BulkDispatch__Aws__RoleArn: not set, but BulkDispatch__Aws__Credentials is WebIdentity. Example: {Examples[nameof(o.RoleArn)]}.";
        }
        else if (!RoleArn().IsMatch(o.RoleArn.Trim()))
        {
            yield return $"BulkDispatch__Aws__RoleArn: {Show(o.RoleArn)} is not an IAM role ARN. Example: {Examples[nameof(o.RoleArn)]}.";
        }

        if (string.IsNullOrWhiteSpace(o.WebIdentityAudience))
        {
            yield return $"BulkDispatch__Aws__WebIdentityAudience: not set, but BulkDispatch__Aws__Credentials is WebIdentity; it is the Entra ID application the role's trust policy accepts. Example: {Examples[nameof(o.WebIdentityAudience)]}.";
        }

        if (string.IsNullOrWhiteSpace(o.RoleSessionName) || !SessionName().IsMatch(o.RoleSessionName))
        {
            yield return $"BulkDispatch__Aws__RoleSessionName: {Show(o.RoleSessionName)} must be 2-64 letters, digits or =,.@- characters. Example: {Examples[nameof(o.RoleSessionName)]}.";
        }

        if (o.SessionDuration < TimeSpan.FromMinutes(15) || o.SessionDuration > TimeSpan.FromHours(12))
        {
            yield return $"BulkDispatch__Aws__SessionDuration: {o.SessionDuration} is outside 00:15:00 to 12:00:00 (the STS limits). Example: {Examples[nameof(o.SessionDuration)]}.";
        }

        if (!string.IsNullOrWhiteSpace(o.StsServiceUrl) && !IsHttpUrl(o.StsServiceUrl))
        {
            yield return $"BulkDispatch__Aws__StsServiceUrl: {Show(o.StsServiceUrl)} is not an http(s) URL. Example: {Examples[nameof(o.StsServiceUrl)]}.";
        }

        if (!string.IsNullOrWhiteSpace(o.StsRegion) && Amazon.RegionEndpoint.GetBySystemName(o.StsRegion).DisplayName.Contains("Unknown", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"BulkDispatch__Aws__StsRegion: {Show(o.StsRegion)} is not an AWS region. Example: {Examples[nameof(o.StsRegion)]}.";
        }
    }

    [GeneratedRegex(@"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")]
    private static partial Regex RoleArn();

    [GeneratedRegex(@"^[\w+=,.@-]{2,64}$")]
    private static partial Regex SessionName();
}
