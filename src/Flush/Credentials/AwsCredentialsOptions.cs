namespace BulkDispatch.Flush.Credentials;

/// <summary>Where the flush's AWS credentials come from: the <c>BulkDispatch__Aws__*</c> settings.</summary>
internal sealed class AwsCredentialsOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "BulkDispatch:Aws";

    /// <summary><c>Default</c> (the AWS SDK chain), <c>KeyVault</c> or <c>WebIdentity</c>.</summary>
    public string Credentials { get; set; } = nameof(AwsCredentialSource.Default);

    /// <summary>The IAM role <c>WebIdentity</c> assumes, e.g. <c>arn:aws:iam::123456789012:role/bulkdispatch-flush</c>.</summary>
    public string? RoleArn { get; set; }

    /// <summary>The Entra ID application (audience) whose token STS accepts for <see cref="RoleArn"/>, e.g. <c>api://AzureADTokenExchange</c>.</summary>
    public string? WebIdentityAudience { get; set; }

    /// <summary>The session name STS records for the assumed role (CloudTrail shows it).</summary>
    public string RoleSessionName { get; set; } = "bulkdispatch-flush";

    /// <summary>How long each set of temporary credentials lasts (15 min to the role's maximum).</summary>
    public TimeSpan SessionDuration { get; set; } = TimeSpan.FromHours(1);

    /// <summary>An STS endpoint override (regional or VPC endpoints, tests).</summary>
    public string? StsServiceUrl { get; set; }

    /// <summary>The STS region; by default the queue's region (<c>BulkDispatch__Sqs__Region</c>).</summary>
    public string? StsRegion { get; set; }

    /// <summary>The credential source <see cref="Credentials"/> names, or null when it names none.</summary>
    internal AwsCredentialSource? Source =>
        Enum.GetValues<AwsCredentialSource>().Cast<AwsCredentialSource?>()
            .FirstOrDefault(s => string.Equals(s.ToString(), Credentials?.Trim(), StringComparison.OrdinalIgnoreCase));
}

/// <summary>The AWS credential sources the flush knows.</summary>
internal enum AwsCredentialSource
{
    /// <summary>The AWS SDK's default chain: environment, profile, container or instance role.</summary>
    Default,

    /// <summary>An access key kept in Azure Key Vault, read with the app's Azure identity.</summary>
    KeyVault,

    /// <summary>No AWS secret: an Entra ID token exchanged with STS AssumeRoleWithWebIdentity.</summary>
    WebIdentity,
}
