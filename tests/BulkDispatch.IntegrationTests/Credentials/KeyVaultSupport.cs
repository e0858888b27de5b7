using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using Azure.Core;
using Azure.Security.KeyVault.Secrets;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Credentials;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>One emulator per test class that serves only requests signed with the access key it currently requires.</summary>
public sealed class GuardedEmulatorFixture : IAsyncLifetime
{
    public const string FirstKeyId = "AKIAFIRSTKEY00000001";

    internal SqsEmulator Emulator { get; private set; } = null!;

    public async Task InitializeAsync() => Emulator = await TestEmulators.StartGuardedAsync(FirstKeyId);

    public async Task DisposeAsync() => await Emulator.DisposeAsync();
}

/// <summary>A vault holding an AWS key, the test Azure identity, and services built by <c>AddBulkDispatchFlush</c> with <c>Credentials=KeyVault</c>.</summary>
internal sealed class KeyVaultSetup : IAsyncDisposable
{
    public const string SecretPrefix = "vault-secret-do-not-print-";

    private readonly List<ServiceProvider> _providers = [];

    private KeyVaultSetup(LocalKeyVault vault) => Vault = vault;

    public LocalKeyVault Vault { get; }

    public TestTokenCredential Identity { get; set; } = new();

    public CapturingLoggerFactory Logs { get; } = new();

    /// <summary>Every secret value this setup stored, for "never printed" checks.</summary>
    public List<string> SecretValues { get; } = [];

    public static async Task<KeyVaultSetup> StartAsync(string accessKeyId)
    {
        var setup = new KeyVaultSetup(await LocalKeyVault.StartAsync());
        setup.StoreKey(accessKeyId);
        return setup;
    }

    /// <summary>Puts a new AWS key in the vault (a rotation): the id, and a secret key only the vault knows.</summary>
    public void StoreKey(string accessKeyId)
    {
        string secret = SecretPrefix + Guid.NewGuid().ToString("N");
        SecretValues.Add(secret);
        Vault.Set("aws-access-key-id", accessKeyId);
        Vault.Set("aws-secret-access-key", secret);
    }

    /// <summary>
    /// Services as a host builds them: the vault's settings, then <paramref name="settings"/> (which may name another vault),
    /// and the test vault's client options unless <paramref name="clientOptions"/> are given; <paramref name="alsoRegister"/>
    /// adds another part of the product over the same settings (e.g. the queue operations).
    /// </summary>
    public ServiceProvider Services(
        IDictionary<string, string?>? settings = null, TimeProvider? time = null, SecretClientOptions? clientOptions = null, Action<IServiceCollection, IConfiguration>? alsoRegister = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["BulkDispatch:Aws:Credentials"] = "KeyVault",
            ["BulkDispatch:KeyVault:VaultUri"] = Vault.VaultUri.ToString(),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var services = new ServiceCollection();
        services.AddSingleton<TokenCredential>(Identity);
        services.AddSingleton(clientOptions ?? Vault.ClientOptions());
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        services.AddBulkDispatchFlush(configuration);
        alsoRegister?.Invoke(services, configuration);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider;
    }

    /// <summary>The flush's SQS gateway from those services, pointed at <paramref name="emulator"/>.</summary>
    public SqsGateway Gateway(SqsEmulator emulator, IDictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()) { ["BulkDispatch:Sqs:ServiceUrl"] = emulator.ServiceUrl.ToString() };
        return Services(values).GetRequiredKeyedService<SqsGateway>(FlushServiceCollectionExtensions.SqsServiceKey);
    }

    /// <summary>A cheap signed SQS call through <paramref name="gateway"/>.</summary>
    public static Task<ListQueuesResponse> ListQueuesAsync(SqsGateway gateway) =>
        gateway.CallAsync("ListQueues", (sqs, token) => sqs.ListQueuesAsync(new ListQueuesRequest(), token));

    public static KeyVaultAwsCredentials Credentials(IServiceProvider services) =>
        (KeyVaultAwsCredentials)services.GetRequiredService<SelectedAwsCredentials>().Credentials!;

    /// <summary>Fails when a stored secret value appears in any log line or in <paramref name="texts"/>.</summary>
    public void AssertNoSecretIn(params string?[] texts)
    {
        var all = Logs.Records.Select(r => r.Message).Concat(texts.Select(t => t ?? "")).ToList();
        Assert.NotEmpty(SecretValues);
        foreach (var secret in SecretValues)
        {
            Assert.DoesNotContain(all, line => line.Contains(secret, StringComparison.Ordinal));
        }

        Assert.DoesNotContain(all, line => line.Contains(SecretPrefix, StringComparison.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        await Vault.DisposeAsync();
    }
}
