using BulkDispatch.Flush;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Credentials;
using BulkDispatch.Flush.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.UnitTests.Flush;

/// <summary>The credential settings are checked at start with the others, each error naming its setting with an example.</summary>
public sealed class CredentialsSettingsTests
{
    private const string Reference = "@Microsoft.KeyVault(SecretUri=https://corp-vault.vault.azure.net/secrets/aws-secret-access-key/)";

    private static BulkDispatchConfigurationException Fails(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key.Replace("__", ":", StringComparison.Ordinal), s.Value)))
            .Build();
        using var services = new ServiceCollection().AddBulkDispatchFlush(configuration).BuildServiceProvider();
        var engine = services.GetRequiredService<FlushEngine>();
        return Assert.Throws<BulkDispatchConfigurationException>(() => engine.RunAsync().GetAwaiter().GetResult());
    }

    /// <summary>The two credential validators' errors for options made in code (the source selected as <paramref name="aws"/> says).</summary>
    private static List<string> Errors(AwsCredentialsOptions aws, KeyVaultOptions? vault = null, Dictionary<string, string>? environment = null)
    {
        var selected = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["BulkDispatch:Aws:Credentials"] = aws.Credentials }).Build();
        return [.. new AwsCredentialsOptionsValidator(null, n => environment?.GetValueOrDefault(n)).Errors(aws), .. new KeyVaultOptionsValidator(selected).Errors(vault ?? new KeyVaultOptions())];
    }

    [Fact]
    public void An_unknown_credential_source_is_named_with_the_choices()
    {
        var line = Assert.Single(Fails(("BulkDispatch__Aws__Credentials", "Vault")).Errors);
        Assert.StartsWith("BulkDispatch__Aws__Credentials: 'Vault' is not a credential source; use Default (the AWS SDK chain), KeyVault or WebIdentity.", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("keyvault")]
    [InlineData(" WebIdentity ")]
    [InlineData("DEFAULT")]
    public void Source_names_are_read_without_regard_to_case_or_spaces(string value) =>
        Assert.NotNull(new AwsCredentialsOptions { Credentials = value }.Source);

    [Fact]
    public void Key_vault_without_a_vault_uri_names_the_setting_with_an_example()
    {
        var line = Assert.Single(Fails(("BulkDispatch__Aws__Credentials", "KeyVault")).Errors);
        Assert.Equal("BulkDispatch__KeyVault__VaultUri: not set, but BulkDispatch__Aws__Credentials is KeyVault. Example: https://my-vault.vault.azure.net/.", line);
    }

    [Theory]
    [InlineData("my-vault")]
    [InlineData("http://my-vault.vault.azure.net/")]
    public void A_malformed_vault_uri_is_named(string uri)
    {
        var line = Assert.Single(Errors(new AwsCredentialsOptions { Credentials = "KeyVault" }, new KeyVaultOptions { VaultUri = uri }));
        Assert.StartsWith($"BulkDispatch__KeyVault__VaultUri: '{uri}' is not an https URL of a vault. Example: https://", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Web_identity_without_role_and_audience_names_both_at_once()
    {
        var errors = Fails(("BulkDispatch__Aws__Credentials", "WebIdentity"), ("BulkDispatch__Flush__ReceiveConcurrency", "0")).Errors;
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("BulkDispatch__Aws__RoleArn: not set", StringComparison.Ordinal) && e.Contains("Example: arn:aws:iam::", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("BulkDispatch__Aws__WebIdentityAudience: not set", StringComparison.Ordinal) && e.Contains("Example:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("BulkDispatch__Flush__ReceiveConcurrency:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("bulkdispatch-flush")]
    [InlineData("arn:aws:iam::123456789012:user/someone")]
    [InlineData("arn:aws:iam::12345:role/x")]
    public void A_role_arn_that_is_not_a_role_arn_is_named(string arn)
    {
        var line = Assert.Single(Errors(new AwsCredentialsOptions { Credentials = "WebIdentity", RoleArn = arn, WebIdentityAudience = "api://AzureADTokenExchange" }));
        Assert.Equal($"BulkDispatch__Aws__RoleArn: '{arn}' is not an IAM role ARN. Example: arn:aws:iam::123456789012:role/bulkdispatch-flush.", line);
    }

    [Fact]
    public void A_complete_web_identity_setup_is_accepted() =>
        Assert.Empty(Errors(new AwsCredentialsOptions { Credentials = "WebIdentity", RoleArn = "arn:aws-us-gov:iam::123456789012:role/path/flush", WebIdentityAudience = "api://AzureADTokenExchange" }));

    [Fact]
    public void An_unreadable_refresh_interval_is_named_with_an_example()
    {
        var line = Assert.Single(Fails(("BulkDispatch__Aws__Credentials", "KeyVault"), ("BulkDispatch__KeyVault__VaultUri", "https://v.vault.azure.net/"), ("BulkDispatch__KeyVault__RefreshInterval", "15 minutes")).Errors);
        Assert.Equal("BulkDispatch__KeyVault__RefreshInterval: '15 minutes' is not a time span (hh:mm:ss). Example: 00:15:00.", line);
    }

    [Theory]
    [InlineData("AWS_ACCESS_KEY_ID")]
    [InlineData("AWS_SECRET_ACCESS_KEY")]
    [InlineData("AWS_SESSION_TOKEN")]
    public void Default_mode_stops_on_an_aws_variable_holding_an_unresolved_key_vault_reference(string variable)
    {
        var line = Assert.Single(Errors(new AwsCredentialsOptions(), environment: new() { [variable] = "  " + Reference, ["AWS_REGION"] = "us-west-2" }));
        Assert.StartsWith($"{variable}: the Key Vault reference did not resolve", line, StringComparison.Ordinal);
        Assert.Contains("managed identity is on", line, StringComparison.Ordinal);
        Assert.Contains("'Key Vault Secrets User' role on the vault", line, StringComparison.Ordinal);
        Assert.Contains("SecretUri is right", line, StringComparison.Ordinal);
        Assert.DoesNotContain("corp-vault", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_mode_accepts_real_aws_variables_and_other_modes_ignore_them()
    {
        Assert.Empty(Errors(new AwsCredentialsOptions(), environment: new() { ["AWS_ACCESS_KEY_ID"] = "AKIAIOSFODNN7EXAMPLE", ["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI" }));
        Assert.Empty(Errors(new AwsCredentialsOptions { Credentials = "KeyVault" }, new KeyVaultOptions { VaultUri = "https://v.vault.azure.net/" }, new() { ["AWS_ACCESS_KEY_ID"] = Reference }));
    }

    [Fact]
    public void An_unresolved_reference_in_a_credential_setting_says_so_without_echoing_it()
    {
        var error = Fails(("BulkDispatch__Aws__Credentials", "KeyVault"), ("BulkDispatch__KeyVault__VaultUri", Reference));
        Assert.Contains(error.Errors, e => e.StartsWith("BulkDispatch__KeyVault__VaultUri: the Key Vault reference did not resolve", StringComparison.Ordinal));
        Assert.DoesNotContain("corp-vault", error.Message, StringComparison.Ordinal);
    }
}
