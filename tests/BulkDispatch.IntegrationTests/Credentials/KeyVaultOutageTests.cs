using Azure.Security.KeyVault.Secrets;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Reporting;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.TestKit;
using BulkDispatch.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>
/// A vault that cannot be reached (no such host, 5xx, throttling) is an outage like any other: the run is incomplete,
/// says in one line which setting's vault failed and how, and leaves every message queued. A vault that refuses
/// (401/403) or lacks the secret is a configuration error naming the secret's setting.
/// </summary>
public sealed class KeyVaultOutageTests(GuardedEmulatorFixture fixture) : IClassFixture<GuardedEmulatorFixture>
{
    /// <summary>A host name that never resolves (RFC 2606).</summary>
    public const string UnresolvableVault = "https://bulkdispatch-no-such-vault.invalid/";

    public static TheoryData<string> Outages => ["no such host", "503", "429"];

    [Theory]
    [MemberData(nameof(Outages))]
    public async Task An_unreachable_vault_makes_the_run_incomplete_naming_the_vault_setting_and_leaves_the_messages(string outage)
    {
        await fixture.Emulator.RequireAccessKeyAsync(GuardedEmulatorFixture.FirstKeyId);
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        var settings = Settings(h);
        // The Azure SDK's own retries (here quick) run first; connection failures then end as "Retry failed after 3 tries".
        var clientOptions = setup.Vault.ClientOptions();
        clientOptions.Retry.MaxRetries = 2;
        clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(10);
        switch (outage)
        {
            case "no such host":
                settings["BulkDispatch:KeyVault:VaultUri"] = UnresolvableVault;
                break;
            default:
                setup.Vault.FailWith = int.Parse(outage, System.Globalization.CultureInfo.InvariantCulture);
                break;
        }

        await h.EnqueueAsync(FlushHarness.Messages(Events(6), perMessage: 2));
        var report = await setup.Services(settings, clientOptions: clientOptions).GetRequiredService<FlushEngine>().RunAsync();

        Assert.False(report.Complete, report.ToText());
        Assert.Equal(FlushStopReason.TransientFailure, report.StopReason);
        Assert.Equal(0, report.MessagesReceived);
        Assert.Contains("BulkDispatch__KeyVault__VaultUri: Key Vault", report.LastFailure, StringComparison.Ordinal);
        Assert.Contains("could not be reached to read the secret 'aws-access-key-id'", report.LastFailure, StringComparison.Ordinal);
        Assert.Contains(outage == "no such host" ? "(after 3 tries)" : $"(HTTP {outage}", report.LastFailure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', report.LastFailure ?? "");
        Assert.Equal(3, await h.DepthAsync(h.QueueUrl));
        Assert.Empty(h.EventApi.Requests);
        if (outage != "no such host")
        {
            Assert.Empty(setup.Vault.Reads);
        }
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { "403", "BulkDispatch__KeyVault__AccessKeyIdSecret: " },
        { "secret not found", "BulkDispatch__KeyVault__SecretAccessKeySecret: the secret 'aws-secret-access-key' was not found" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_vault_that_refuses_or_lacks_the_secret_is_a_configuration_error_naming_the_secret_setting(string refusal, string message)
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        if (refusal == "403")
        {
            setup.Vault.Forbidden = true;
        }
        else
        {
            setup.Vault.Remove("aws-secret-access-key");
        }

        await h.EnqueueAsync(FlushHarness.Messages(Events(2), perMessage: 1));
        var engine = setup.Services(Settings(h)).GetRequiredService<FlushEngine>();

        var error = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => engine.RunAsync());

        Assert.StartsWith(message, Assert.Single(error.Errors), StringComparison.Ordinal);
        Assert.Equal(2, await h.DepthAsync(h.QueueUrl));
        setup.AssertNoSecretIn(error.ToString());
    }

    [Fact]
    public async Task Through_bulkdispatch_flush_an_unresolvable_vault_exits_1_with_one_line_and_no_stack_trace()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await h.EnqueueAsync(FlushHarness.Messages(Events(2), perMessage: 1));
        using var dir = new TempDirectory();

        var result = await CliProcess.RunAsync(dir.Path, "flush",
            "--set", "BulkDispatch__Sqs__QueueUrl=" + h.QueueUrl,
            "--set", "BulkDispatch__Sqs__ServiceUrl=" + fixture.Emulator.ServiceUrl,
            "--set", "BulkDispatch__Optimizely__EndpointOverride=" + h.EventApi.EventsUrl,
            "--set", "BulkDispatch__Aws__Credentials=KeyVault",
            "--set", "BulkDispatch__KeyVault__VaultUri=" + UnresolvableVault);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("INCOMPLETE", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("BulkDispatch__KeyVault__VaultUri: Key Vault https://bulkdispatch-no-such-vault.invalid/ could not be reached", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected error", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("AggregateException", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, await h.DepthAsync(h.QueueUrl));
    }

    [Theory]
    [InlineData(503, 1, "BulkDispatch__KeyVault__VaultUri: Key Vault {0} could not be reached to read the secret 'aws-access-key-id' (HTTP 503")]
    [InlineData(403, 2, "BulkDispatch__KeyVault__AccessKeyIdSecret: {0} (BulkDispatch__KeyVault__VaultUri) refused to read the secret 'aws-access-key-id' (403")]
    public async Task Through_bulkdispatch_flush_an_outage_exits_1_and_a_refusal_exits_2_each_naming_its_setting(int status, int exitCode, string message)
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        setup.Vault.FailWith = status;
        await h.EnqueueAsync(FlushHarness.Messages(Events(2), perMessage: 1));
        using var dir = new TempDirectory();
        var start = CliProcess.StartInfo(dir.Path, "flush",
            "--set", "BulkDispatch__Sqs__QueueUrl=" + h.QueueUrl,
            "--set", "BulkDispatch__Sqs__ServiceUrl=" + fixture.Emulator.ServiceUrl,
            "--set", "BulkDispatch__Optimizely__EndpointOverride=" + h.EventApi.EventsUrl,
            "--set", "BulkDispatch__Aws__Credentials=KeyVault",
            "--set", "BulkDispatch__KeyVault__VaultUri=" + setup.Vault.VaultUri);
        // The child trusts the test vault's certificate (and nothing else): OpenSSL reads its trust store from this file.
        start.Environment["SSL_CERT_FILE"] = dir.Write("vault.pem", setup.Vault.CertificatePem);

        var result = await CliProcess.RunAsync(start);

        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.Contains(string.Format(System.Globalization.CultureInfo.InvariantCulture, message, setup.Vault.VaultUri), result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.True(setup.Vault.Requests > 0);
        Assert.Equal(2, await h.DepthAsync(h.QueueUrl));
    }

    private Dictionary<string, string?> Settings(FlushHarness h) => new(FlushHarness.FastSettings)
    {
        ["BulkDispatch:Sqs:QueueUrl"] = h.QueueUrl,
        ["BulkDispatch:Sqs:ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
        ["BulkDispatch:Optimizely:EndpointOverride"] = h.EventApi.EventsUrl.ToString(),
    };

    private static List<QueuedEvent> Events(int count) =>
        TestVectors.All.Take(count).Select(v => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, DateTimeOffset.UtcNow)).ToList();
}
