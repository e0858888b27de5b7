using Amazon;
using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SQS;
using Azure.Core;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;
using BulkDispatch.Core.Sqs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Flush.Credentials;

/// <summary>Registers the AWS credentials <c>BulkDispatch__Aws__Credentials</c> selects, and the SQS client that uses them.</summary>
internal static class CredentialsServiceCollectionExtensions
{
    public static IServiceCollection AddBulkDispatchAwsCredentials(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AwsCredentialsOptions>().Bind(configuration.GetSection(AwsCredentialsOptions.Section));
        services.AddOptions<KeyVaultOptions>().Bind(configuration.GetSection(KeyVaultOptions.Section));

        // TryAdd: tests (and hosts with their own Azure identity) supply these; production gets managed identity / az login.
        services.TryAddSingleton<TokenCredential>(_ => new DefaultAzureCredential());
        // A vault read sits in front of an SQS request: keep it well inside a flush run (the Azure SDK's default is 100 s a try).
        services.TryAddSingleton(_ => new SecretClientOptions { Retry = { MaxRetries = 2, NetworkTimeout = TimeSpan.FromSeconds(15) } });

        // Null for Default: the AWS SDK's own chain, built by the SDK itself.
        services.TryAddSingleton(sp => new SelectedAwsCredentials(Create(sp)));
        services.TryAddSingleton<IAmazonSQS>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<SqsOptions>>().Value;
            var credentials = sp.GetRequiredService<SelectedAwsCredentials>().Credentials;
            var client = SqsClientFactory.Create(o.Region, o.ServiceUrl, credentials);
            return credentials is IInvalidatableCredentials refreshable
                ? AuthRetryingProxy<IAmazonSQS>.Create(client, AuthErrorRetry.Create(refreshable, sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AuthErrorRetry).FullName!)), refreshable)
                : client;
        });
        return services;
    }

    private static AWSCredentials? Create(IServiceProvider sp)
    {
        var aws = sp.GetRequiredService<IOptions<AwsCredentialsOptions>>().Value;
        switch (aws.Source)
        {
            case AwsCredentialSource.KeyVault:
                var vault = sp.GetRequiredService<IOptions<KeyVaultOptions>>().Value;
                var secrets = new SecretClient(CredentialsValidation.VaultUri(vault), sp.GetRequiredService<TokenCredential>(), sp.GetRequiredService<SecretClientOptions>());
                return new KeyVaultAwsCredentials(secrets, vault, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<KeyVaultAwsCredentials>>());
            case AwsCredentialSource.WebIdentity:
                var config = new AmazonSecurityTokenServiceConfig();
                string region = string.IsNullOrWhiteSpace(aws.StsRegion) ? sp.GetRequiredService<IOptions<SqsOptions>>().Value.Region : aws.StsRegion;
                if (string.IsNullOrWhiteSpace(aws.StsServiceUrl))
                {
                    config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
                }
                else
                {
                    config.ServiceURL = aws.StsServiceUrl;
                    config.AuthenticationRegion = region;
                }

                // AssumeRoleWithWebIdentity is unsigned: the Entra ID token is the proof.
                var sts = new AmazonSecurityTokenServiceClient(new AnonymousAWSCredentials(), config);
                return new WebIdentityAwsCredentials(sts, sp.GetRequiredService<TokenCredential>(), aws, sp.GetRequiredService<ILogger<WebIdentityAwsCredentials>>());
            default:
                return null;
        }
    }
}

/// <summary>The credentials the settings select; <see cref="Credentials"/> is null for the AWS SDK's default chain.</summary>
internal sealed class SelectedAwsCredentials(AWSCredentials? credentials) : IDisposable
{
    public AWSCredentials? Credentials { get; } = credentials;

    public void Dispose() => (Credentials as IDisposable)?.Dispose();
}
