using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.SecurityToken;
using Amazon.SQS;
using Azure.Core;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Flush.Credentials;

/// <summary>
/// The one registration of a BulkDispatch SQS client: made from the <c>BulkDispatch__Sqs__*</c> settings and signed with
/// the AWS credentials <c>BulkDispatch__Aws__Credentials</c> selects (the AWS SDK chain, Azure Key Vault or web identity).
/// The flush, the queue operations and any host that needs the same queues each register their own client under their
/// own key; all keys share one credentials instance (one vault read, one STS session).
/// </summary>
public static class SqsGatewayServiceCollectionExtensions
{
    /// <summary>
    /// Adds an <see cref="IAmazonSQS"/> and an <see cref="SqsGateway"/> under <paramref name="serviceKey"/>, and the
    /// <c>BulkDispatch__Sqs__*</c>, <c>BulkDispatch__Aws__*</c> and <c>BulkDispatch__KeyVault__*</c> settings with their
    /// validators (<see cref="SqsConnectionSettings.ThrowIfInvalid"/> reports every bad one). An <see cref="IAmazonSQS"/>
    /// already registered under the key is kept, and then signs with its own credentials; an unkeyed one is never used.
    /// </summary>
    /// <param name="services">The container.</param>
    /// <param name="configuration">The settings.</param>
    /// <param name="serviceKey">The key of the client and the gateway, e.g. <see cref="FlushServiceCollectionExtensions.SqsServiceKey"/>.</param>
    /// <param name="validateOnStart">Validate those settings while a generic host starts.</param>
    public static IServiceCollection AddBulkDispatchSqsGateway(this IServiceCollection services, IConfiguration configuration, string serviceKey, bool validateOnStart = false)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceKey);
        services.AddSettings(configuration, SqsOptions.Section, new SqsOptionsValidator(configuration), validateOnStart);
        services.AddSettings(configuration, AwsCredentialsOptions.Section, new AwsCredentialsOptionsValidator(configuration, Environment.GetEnvironmentVariable), validateOnStart);
        services.AddSettings(configuration, KeyVaultOptions.Section, new KeyVaultOptionsValidator(configuration), validateOnStart);
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.TryAddSingleton(sp => new SqsConnectionSettings(
            sp.GetRequiredService<IOptions<SqsOptions>>(), sp.GetRequiredService<IOptions<AwsCredentialsOptions>>(), sp.GetRequiredService<IOptions<KeyVaultOptions>>()));

        // TryAdd: tests (and hosts with their own Azure identity) supply these; production gets managed identity / az login.
        services.TryAddSingleton<TokenCredential>(_ => new DefaultAzureCredential());
        // A vault read sits in front of an SQS request: keep it well inside a flush run (the Azure SDK's default is 100 s a try).
        services.TryAddSingleton(_ => new SecretClientOptions { Retry = { MaxRetries = 2, NetworkTimeout = TimeSpan.FromSeconds(15) } });

        services.TryAddSingleton(sp => new SelectedAwsCredentials(Create(sp)));
        services.TryAddSingleton<FlushSqsClientFactory>();
        services.TryAddKeyedSingleton<IAmazonSQS>(serviceKey, (sp, _) => sp.GetRequiredService<FlushSqsClientFactory>().Create());
        services.TryAddKeyedSingleton(serviceKey, (sp, key) =>
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
/// Makes the SQS clients from the settings and the selected credentials (unless a host registered its own under a
/// key), and remembers them: only those are signed with credentials a gateway may refresh.
/// </summary>
internal sealed class FlushSqsClientFactory(IOptions<SqsOptions> options, SelectedAwsCredentials credentials)
{
    private readonly ConditionalWeakTable<IAmazonSQS, object> _created = new();

    public IAmazonSQS Create()
    {
        var o = options.Value;
        var client = SqsClientFactory.Create(o.Region, o.ServiceUrl, credentials.Credentials);
        _created.AddOrUpdate(client, credentials);
        return client;
    }

    /// <summary>The refreshable credentials <paramref name="client"/> signs with, when it is a client made here.</summary>
    public IRefreshableCredentials? RefreshableCredentialsOf(IAmazonSQS client) =>
        _created.TryGetValue(client, out _) ? credentials.Credentials as IRefreshableCredentials : null;
}
