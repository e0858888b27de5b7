using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using BulkDispatch.Flush.Configuration;

namespace BulkDispatch.Flush.Credentials;

/// <summary>
/// <c>Credentials=Default</c>: the AWS SDK's own credential chain (environment, profile, container or instance role),
/// resolved on first use. When the chain finds nothing, that is a configuration error naming the setting, not the
/// SDK's generic client error: the one place that resolves the chain is the one place that can tell.
/// </summary>
internal sealed class DefaultChainAwsCredentials : AWSCredentials
{
    public override ImmutableCredentials GetCredentials() => GetCredentialsAsync().GetAwaiter().GetResult();

    public override async Task<ImmutableCredentials> GetCredentialsAsync()
    {
        AWSCredentials chain;
        try
        {
            chain = await DefaultAWSCredentialsIdentityResolver.GetCredentialsAsync(null).ConfigureAwait(false);
        }
        catch (AmazonClientException ex)
        {
            // The SDK's own message lists every provider it tried.
            throw new BulkDispatchConfigurationException(
                "BulkDispatch__Aws__Credentials (Default): the AWS SDK found no credentials. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                + "(app settings, local.settings.json Values, or the environment), AWS_PROFILE, or a role; or set BulkDispatch__Aws__Credentials "
                + "to KeyVault or WebIdentity (see docs/credentials.md).", ex);
        }

        return await chain.GetCredentialsAsync().ConfigureAwait(false);
    }
}
