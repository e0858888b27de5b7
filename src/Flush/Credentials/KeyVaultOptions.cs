namespace BulkDispatch.Flush.Credentials;

/// <summary>The Azure Key Vault that holds the AWS access key: the <c>BulkDispatch__KeyVault__*</c> settings.</summary>
internal sealed class KeyVaultOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "BulkDispatch:KeyVault";

    /// <summary>The vault, e.g. <c>https://NAME.vault.azure.net/</c>.</summary>
    public string? VaultUri { get; set; }

    /// <summary>The name of the secret holding the AWS access key id.</summary>
    public string AccessKeyIdSecret { get; set; } = "aws-access-key-id";

    /// <summary>The name of the secret holding the AWS secret access key.</summary>
    public string SecretAccessKeySecret { get; set; } = "aws-secret-access-key";

    /// <summary>The name of the secret holding an AWS session token, when the key is temporary.</summary>
    public string? SessionTokenSecret { get; set; }

    /// <summary>How long secrets read from the vault are used before they are read again (rotation is picked up then, or at once on an AWS auth error).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The vault URI as a <see cref="Uri"/>, or null when it is missing or not an https URL.</summary>
    internal Uri? VaultUriOrNull() =>
        Uri.TryCreate(VaultUri?.Trim(), UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.Host.Length > 0 ? uri : null;
}
