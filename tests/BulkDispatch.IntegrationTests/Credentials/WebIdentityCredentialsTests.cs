using BulkDispatch.Core.Sqs;
using Azure.Core;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Credentials;
using BulkDispatch.IntegrationTests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>
/// <c>Credentials=WebIdentity</c>: an Entra ID token from the app's identity exchanged by the real STS client
/// (against STS on loopback) for temporary credentials, which the real SQS client then signs with.
/// </summary>
public sealed class WebIdentityCredentialsTests(GuardedEmulatorFixture fixture) : IClassFixture<GuardedEmulatorFixture>, IAsyncLifetime, IDisposable
{
    private const string RoleArn = "arn:aws:iam::123456789012:role/bulkdispatch-flush";
    private const string Audience = "api://bulkdispatch-test";
    private readonly TestTokenCredential _identity = new();
    private readonly CapturingLoggerFactory _logs = new();
    private readonly List<ServiceProvider> _providers = [];
    private LocalSts _sts = null!;

    public async Task InitializeAsync() => _sts = await LocalSts.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        await _sts.DisposeAsync();
    }

    public void Dispose() => _logs.Dispose();

    [Fact]
    public async Task Sqs_is_signed_with_temporary_credentials_for_the_configured_role_and_audience()
    {
        await fixture.Emulator.RequireAccessKeyAsync(LocalSts.AccessKeyId(1));
        var services = Services();

        var sqs = services.GetRequiredKeyedService<SqsGateway>(FlushServiceCollectionExtensions.SqsServiceKey);
        await KeyVaultSetup.ListQueuesAsync(sqs);
        await KeyVaultSetup.ListQueuesAsync(sqs);

        var call = Assert.Single(_sts.Calls);
        Assert.Equal(RoleArn, call["RoleArn"]);
        Assert.Equal("bulkdispatch-flush", call["RoleSessionName"]);
        Assert.Equal("3600", call["DurationSeconds"]);
        // The token STS got is the one the Azure identity gave for the audience's scope, and nothing else was asked.
        Assert.Equal(TestTokenCredential.TokenFor(Audience + "/.default"), call["WebIdentityToken"]);
        Assert.All(_identity.Requests, r => Assert.Equal([Audience + "/.default"], r.Scopes));
        Assert.DoesNotContain(_logs.Records, r => r.Message.Contains("temporary-secret", StringComparison.Ordinal) || r.Message.Contains("session-token-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Credentials_are_renewed_before_they_expire()
    {
        _sts.Lifetime = TimeSpan.FromMinutes(3); // inside the 5-minute PreemptExpiryTime: due for renewal, not expired
        var credentials = CredentialsFromServices();

        var first = await credentials.GetCredentialsAsync();
        var renewed = first;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (renewed.AccessKey == first.AccessKey)
        {
            await Task.Delay(20, timeout.Token); // the SDK renews in the background and serves the old ones meanwhile
            renewed = await credentials.GetCredentialsAsync();
        }

        Assert.Equal(LocalSts.AccessKeyId(1), first.AccessKey);
        Assert.StartsWith("ASIATEMPORARY", renewed.AccessKey, StringComparison.Ordinal);
        Assert.True(credentials.Expiration > DateTime.UtcNow, "the credentials in use had expired");
        Assert.All(_sts.Calls, c => Assert.Equal(RoleArn, c["RoleArn"]));
    }

    [Fact]
    public async Task Credentials_far_from_expiry_are_reused()
    {
        var credentials = CredentialsFromServices();

        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(LocalSts.AccessKeyId(1), (await credentials.GetCredentialsAsync()).AccessKey);
        }

        Assert.Single(_sts.Calls);
    }

    [Fact]
    public async Task An_aws_auth_error_assumes_the_role_again_at_once()
    {
        await fixture.Emulator.RequireAccessKeyAsync(LocalSts.AccessKeyId(2)); // the first credentials are refused, as if revoked
        var sqs = Services().GetRequiredKeyedService<SqsGateway>(FlushServiceCollectionExtensions.SqsServiceKey);

        await KeyVaultSetup.ListQueuesAsync(sqs);

        Assert.Equal(2, _sts.Calls.Count);
        Assert.Single(_logs.Warnings, w => w.Contains("AWS refused the credentials (InvalidClientTokenId)", StringComparison.Ordinal));
    }

    private WebIdentityAwsCredentials CredentialsFromServices() =>
        (WebIdentityAwsCredentials)Services().GetRequiredService<SelectedAwsCredentials>().Credentials!;

    private ServiceProvider Services()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["BulkDispatch:Sqs:ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
            ["BulkDispatch:Aws:Credentials"] = "WebIdentity",
            ["BulkDispatch:Aws:RoleArn"] = RoleArn,
            ["BulkDispatch:Aws:WebIdentityAudience"] = Audience,
            ["BulkDispatch:Aws:StsServiceUrl"] = _sts.ServiceUrl.ToString(),
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<TokenCredential>(_identity);
        services.AddLogging(logging => logging.AddProvider(_logs).SetMinimumLevel(LogLevel.Trace));
        services.AddBulkDispatchFlush(configuration);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider;
    }
}
