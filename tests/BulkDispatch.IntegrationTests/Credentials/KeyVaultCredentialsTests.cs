using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using Microsoft.Extensions.Time.Testing;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>
/// <c>Credentials=KeyVault</c>: the real <c>SecretClient</c> against an HTTPS vault on loopback (bearer challenge, test identity),
/// the key used by the real SQS client against an emulator that serves only the key it requires.
/// </summary>
public sealed class KeyVaultCredentialsTests(GuardedEmulatorFixture fixture) : IClassFixture<GuardedEmulatorFixture>
{
    private const string SecondKeyId = "AKIASECONDKEY0000002";

    [Fact]
    public async Task The_key_is_read_from_the_vault_with_the_apps_azure_identity_and_used_for_sqs()
    {
        await fixture.Emulator.RequireAccessKeyAsync(GuardedEmulatorFixture.FirstKeyId);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        setup.Vault.Set("aws-session-token", "session-token-value");
        var services = setup.Services(new Dictionary<string, string?> { ["BulkDispatch:KeyVault:SessionTokenSecret"] = "aws-session-token" });

        var credentials = await KeyVaultSetup.Credentials(services).GetCredentialsAsync();
        var sqs = setup.Gateway(fixture.Emulator);
        await KeyVaultSetup.ListQueuesAsync(sqs);

        Assert.Equal(GuardedEmulatorFixture.FirstKeyId, credentials.AccessKey);
        Assert.Equal(setup.SecretValues[0], credentials.SecretKey);
        Assert.Equal("session-token-value", credentials.Token);
        Assert.Equal(0, setup.Vault.WrongTokens);
        // The SDK's challenge policy asked our identity for the vault's scope, in the tenant the challenge named.
        Assert.Contains(setup.Identity.Requests, r => r.Scopes.SequenceEqual([LocalKeyVault.Scope]) && r.TenantId == LocalKeyVault.TenantId);
        setup.AssertNoSecretIn();
    }

    [Fact]
    public async Task A_key_the_vault_does_not_hold_is_refused_by_the_guarded_emulator()
    {
        // The control for every test here: the emulator really rejects a key other than the one it requires.
        await fixture.Emulator.RequireAccessKeyAsync(GuardedEmulatorFixture.FirstKeyId);
        await using var setup = await KeyVaultSetup.StartAsync("AKIANOTTHEREQUIRED01");
        var sqs = setup.Gateway(fixture.Emulator);

        var error = await Assert.ThrowsAsync<SqsRequestFailedException>(() => KeyVaultSetup.ListQueuesAsync(sqs));

        Assert.Equal("InvalidClientTokenId", error.ErrorCode);
        Assert.Equal(SqsFailureKind.Fatal, error.Kind);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, error.StatusCode);
        Assert.Equal(2, setup.Vault.Reads["aws-access-key-id"]); // read, refused, read again once, refused: no loop
        Assert.Single(setup.Logs.Warnings, w => w.Contains("InvalidClientTokenId", StringComparison.Ordinal));
        setup.AssertNoSecretIn(error.Message);
    }

    [Fact]
    public async Task A_rotated_key_is_read_again_after_one_aws_auth_error()
    {
        await fixture.Emulator.RequireAccessKeyAsync(GuardedEmulatorFixture.FirstKeyId);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        var sqs = setup.Gateway(fixture.Emulator);
        await KeyVaultSetup.ListQueuesAsync(sqs);

        setup.StoreKey(SecondKeyId);
        await fixture.Emulator.RequireAccessKeyAsync(SecondKeyId);
        await KeyVaultSetup.ListQueuesAsync(sqs);
        await KeyVaultSetup.ListQueuesAsync(sqs);

        Assert.Equal(2, setup.Vault.Reads["aws-access-key-id"]);
        Assert.Equal(2, setup.Vault.Reads["aws-secret-access-key"]);
        Assert.Single(setup.Logs.Warnings, w => w.Contains("AWS refused the credentials (InvalidClientTokenId)", StringComparison.Ordinal));
        setup.AssertNoSecretIn();
    }

    [Fact]
    public async Task A_late_refusal_of_the_old_key_does_not_read_the_vault_again()
    {
        // Like the flush's parallel receive loops after a rotation: several requests signed with the old key are refused
        // one after another; the first makes the vault be read again, the later ones must not throw the new key away.
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        var credentials = KeyVaultSetup.Credentials(setup.Services());
        await credentials.GetCredentialsAsync();
        long old = credentials.Generation;
        setup.StoreKey(SecondKeyId);

        credentials.Invalidate(old);
        var fresh = await credentials.GetCredentialsAsync();
        credentials.Invalidate(old);
        var still = await credentials.GetCredentialsAsync();

        Assert.Equal(SecondKeyId, fresh.AccessKey);
        Assert.Same(fresh, still);
        Assert.Equal(2, setup.Vault.Reads["aws-secret-access-key"]);
    }

    [Fact]
    public async Task The_key_is_read_again_after_the_refresh_interval()
    {
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var credentials = KeyVaultSetup.Credentials(setup.Services(new Dictionary<string, string?> { ["BulkDispatch:KeyVault:RefreshInterval"] = "00:15:00" }, time));

        var first = await credentials.GetCredentialsAsync();
        setup.StoreKey(SecondKeyId);
        time.Advance(TimeSpan.FromMinutes(14));
        var cached = await credentials.GetCredentialsAsync();
        time.Advance(TimeSpan.FromMinutes(1.5));
        var refreshed = await credentials.GetCredentialsAsync();

        Assert.Equal(GuardedEmulatorFixture.FirstKeyId, first.AccessKey);
        Assert.Same(first, cached);
        Assert.Equal(SecondKeyId, refreshed.AccessKey);
        Assert.Equal(setup.SecretValues[1], refreshed.SecretKey);
        Assert.Equal(2, setup.Vault.Reads["aws-access-key-id"]);
    }

    [Fact]
    public async Task A_missing_secret_is_named_with_the_setting_that_names_it()
    {
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        setup.Vault.Remove("aws-secret-access-key");
        var sqs = setup.Gateway(fixture.Emulator);

        var error = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => KeyVaultSetup.ListQueuesAsync(sqs));

        Assert.Contains("the secret 'aws-secret-access-key' was not found in " + setup.Vault.VaultUri, error.Message, StringComparison.Ordinal);
        Assert.Contains("BulkDispatch__KeyVault__SecretAccessKeySecret", error.Message, StringComparison.Ordinal);
        setup.AssertNoSecretIn(error.Message, error.ToString());
    }

    [Fact]
    public async Task Access_denied_says_the_identity_needs_the_key_vault_secrets_user_role()
    {
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        setup.Vault.Forbidden = true;
        var sqs = setup.Gateway(fixture.Emulator);

        var error = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => KeyVaultSetup.ListQueuesAsync(sqs));

        Assert.Contains("403", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Key Vault Secrets User' role on the vault", error.Message, StringComparison.Ordinal);
        setup.AssertNoSecretIn(error.Message, error.ToString());
    }

    [Fact]
    public async Task No_azure_identity_says_to_run_az_login_or_enable_managed_identity()
    {
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        setup.Identity = new TestTokenCredential(unavailable: true);
        var sqs = setup.Gateway(fixture.Emulator);

        var error = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => KeyVaultSetup.ListQueuesAsync(sqs));

        Assert.Contains("'az login'", error.Message, StringComparison.Ordinal);
        Assert.Contains("managed identity", error.Message, StringComparison.Ordinal);
        Assert.Empty(setup.Vault.Reads);
    }
}
