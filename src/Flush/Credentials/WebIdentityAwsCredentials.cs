using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SecurityToken.Model;
using Azure.Core;
using Azure.Identity;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Credentials;

/// <summary>
/// Temporary AWS credentials with no AWS secret anywhere: an Entra ID token for <see cref="AwsCredentialsOptions.WebIdentityAudience"/>
/// from the app's Azure identity, exchanged with STS <c>AssumeRoleWithWebIdentity</c> for <see cref="AwsCredentialsOptions.RoleArn"/>.
/// </summary>
/// <remarks>
/// The AWS SDK has no web-identity source fed by an in-memory token (its own reads a token file), hence this class.
/// <see cref="RefreshingAWSCredentials"/> renews the credentials in the background once they are within
/// <see cref="RefreshingAWSCredentials.PreemptExpiryTime"/> of expiring, so requests never carry expired ones.
/// </remarks>
internal sealed class WebIdentityAwsCredentials : RefreshingAWSCredentials, IRefreshableCredentials
{
    private readonly IAmazonSecurityTokenService _sts;
    private readonly TokenCredential _azure;
    private readonly AwsCredentialsOptions _options;
    private readonly ILogger _logger;
    private long _generation;

    public WebIdentityAwsCredentials(IAmazonSecurityTokenService sts, TokenCredential azure, AwsCredentialsOptions options, ILogger<WebIdentityAwsCredentials> logger)
    {
        _sts = sts;
        _azure = azure;
        _options = options;
        _logger = logger;
        PreemptExpiryTime = TimeSpan.FromMinutes(5);
    }

    /// <summary>The scope asked of the Azure identity: the audience's <c>/.default</c>.</summary>
    internal string Scope => _options.WebIdentityAudience!.TrimEnd('/').EndsWith("/.default", StringComparison.Ordinal)
        ? _options.WebIdentityAudience!
        : _options.WebIdentityAudience!.TrimEnd('/') + "/.default";

    public string Describe => $"STS AssumeRoleWithWebIdentity for {_options.RoleArn}";

    public long Generation => Interlocked.Read(ref _generation);

    public void Invalidate(long generation)
    {
        if (generation == 0 || generation == Generation)
        {
            ClearCredentials();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sts.Dispose();
        }

        base.Dispose(disposing);
    }

    protected override CredentialsRefreshState GenerateNewCredentials() => GenerateNewCredentialsAsync().GetAwaiter().GetResult();

    protected override async Task<CredentialsRefreshState> GenerateNewCredentialsAsync()
    {
        AccessToken token;
        try
        {
            token = await _azure.GetTokenAsync(new TokenRequestContext([Scope]), CancellationToken.None).ConfigureAwait(false);
        }
        catch (AuthenticationFailedException ex)
        {
            throw new BulkDispatchConfigurationException(
                $"BulkDispatch__Aws__WebIdentityAudience: no Azure identity could get a token for '{Scope}'. Locally, run 'az login'; in Azure, turn on the app's managed identity " +
                $"(for a user-assigned one also set AZURE_CLIENT_ID). ({ex.GetType().Name}: {ex.Message.Split('\n', 2)[0].Trim()})");
        }

        AssumeRoleWithWebIdentityResponse response;
        try
        {
            response = await _sts.AssumeRoleWithWebIdentityAsync(new AssumeRoleWithWebIdentityRequest
            {
                RoleArn = _options.RoleArn,
                RoleSessionName = _options.RoleSessionName,
                WebIdentityToken = token.Token,
                DurationSeconds = (int)_options.SessionDuration.TotalSeconds,
            }).ConfigureAwait(false);
        }
        catch (AmazonSecurityTokenServiceException ex) when (ex.ErrorCode is "AccessDenied" or "InvalidIdentityToken" or "IDPRejectedClaim" or "ValidationError" or "MalformedPolicyDocument")
        {
            throw new BulkDispatchConfigurationException(
                $"BulkDispatch__Aws__RoleArn: STS refused AssumeRoleWithWebIdentity for {_options.RoleArn} ({ex.ErrorCode}: {ex.Message}). " +
                "Check that the role's trust policy names the Entra ID issuer (https://sts.windows.net/<tenant>/) as an OIDC provider and allows its audience (BulkDispatch__Aws__WebIdentityAudience) and the app identity's object id as subject.");
        }

        Interlocked.Increment(ref _generation);
        var c = response.Credentials;
        var expiration = c.Expiration ?? DateTime.UtcNow.AddMinutes(15);
        _logger.LogInformation("Assumed {RoleArn} with a web identity token (session {RoleSessionName}); the credentials expire at {Expiration:O} and are renewed {Preempt} before.",
            _options.RoleArn, _options.RoleSessionName, expiration, PreemptExpiryTime);
        return new CredentialsRefreshState(new ImmutableCredentials(c.AccessKeyId, c.SecretAccessKey, c.SessionToken), expiration);
    }
}
