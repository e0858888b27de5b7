using Amazon;
using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SQS;
using Azure.Core;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Flush.Credentials;

/// <summary>
/// Registers the AWS credentials <c>BulkDispatch__Aws__Credentials</c> selects, and the flush's SQS client and gateway
/// under <see cref="FlushServiceCollectionExtensions.SqsServiceKey"/>.
/// </summary>
internal static class CredentialsServiceCollectionExtensions
{
    public static IServiceCollection AddBulkDispatchAwsCredentials(this IServiceCollection services, IConfiguration configuration, bool validateOnStart)
    {
        services.AddSettings(configuration, AwsCredentialsOptions.Section, new AwsCredentialsOptionsValidator(configuration, Environment.GetEnvironmentVariable), validateOnStart);
        services.AddSettings(configuration, KeyVaultOptions.Section, new KeyVaultOptionsValidator(configuration), validateOnStart);

        // TryAdd: tests (and hosts with their own Azure identity) supply these; production gets managed identity / az login.
        services.TryAddSingleton<TokenCredential>(_ => new DefaultAzureCredential());
        // A vault read sits in front of an SQS request: keep it well inside a flush run (the Azure SDK's default is 100 s a try).
        services.TryAddSingleton(_ => new SecretClientOptions { Retry = { MaxRetries = 2, NetworkTimeout = TimeSpan.FromSeconds(15) } });

        services.TryAddSingleton(sp => new SelectedAwsCredentials(Create(sp)));
        services.TryAddSingleton<FlushSqsClientFactory>();
        services.TryAddKeyedSingleton<IAmazonSQS>(FlushServiceCollectionExtensions.SqsServiceKey, (sp, _) => sp.GetRequiredService<FlushSqsClientFactory>().Create());
        services.TryAddKeyedSingleton(FlushServiceCollectionExtensions.SqsServiceKey, (sp, key) =>
        {
            var client = sp.GetRequiredKeyedService<IAmazonSQS>(key);
            return new SqsGateway(client, new SqsGatewayOptions
            {
                TimeProvider = sp.GetRequiredService<TimeProvider>(),
                Credentials = sp.GetRequiredService<FlushSqsClientFactory>().RefreshableCredentialsOf(client),
                LoggerFactory = sp.GetRequiredService<ILoggerFactory>(),
            });
        });
        return services;
    }

    private static AWSCredentials Create(IServiceProvider sp)
    {
        var aws = sp.GetRequiredService<IOptions<AwsCredentialsOptions>>().Value;
        switch (aws.Source)
        {
            case AwsCredentialSource.KeyVault:
                var vault = sp.GetRequiredService<IOptions<KeyVaultOptions>>().Value;
                var secrets = new SecretClient(vault.VaultUriOrNull(), sp.GetRequiredService<TokenCredential>(), sp.GetRequiredService<SecretClientOptions>());
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
                return new DefaultChainAwsCredentials();
        }
    }
}

/// <summary>The credentials the settings select.</summary>
internal sealed class SelectedAwsCredentials(AWSCredentials credentials) : IDisposable
{
    public AWSCredentials Credentials { get; } = credentials;

    public void Dispose() => (Credentials as IDisposable)?.Dispose();
}

/// <summary>
/// Makes the flush's SQS client from the settings and the selected credentials (unless a host registered its own
/// under the key), and remembers it: only that client is signed with credentials the gateway may refresh.
/// </summary>
internal sealed class FlushSqsClientFactory(IOptions<SqsOptions> options, SelectedAwsCredentials credentials)
{
    private IAmazonSQS? _created;

    public IAmazonSQS Create()
    {
        var o = options.Value;
        var client = SqsClientFactory.Create(o.Region, o.ServiceUrl, credentials.Credentials);
        _created = client;
        return client;
    }

    /// <summary>The refreshable credentials <paramref name="client"/> signs with, when it is the client made here.</summary>
    public IRefreshableCredentials? RefreshableCredentialsOf(IAmazonSQS client) =>
        ReferenceEquals(client, _created) ? credentials.Credentials as IRefreshableCredentials : null;
}
