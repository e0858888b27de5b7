using BulkDispatch.Flush;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.UnitTests.Flush;

/// <summary>Bad settings stop a run before anything is received, naming each setting.</summary>
public sealed class SettingsValidationTests
{
    private static BulkDispatchConfigurationException Fails(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key.Replace("__", ":", StringComparison.Ordinal), s.Value)))
            .Build();
        var services = new ServiceCollection().AddBulkDispatchFlush(configuration).BuildServiceProvider();
        var engine = services.GetRequiredService<FlushEngine>();
        return Assert.Throws<BulkDispatchConfigurationException>(() => engine.RunAsync().GetAwaiter().GetResult());
    }

    [Theory]
    [InlineData("BulkDispatch__Flush__MaxDuration", "four minutes")]
    [InlineData("BulkDispatch__Flush__MaxDuration", "00:00:00")]
    [InlineData("BulkDispatch__Flush__ReceiveConcurrency", "0")]
    [InlineData("BulkDispatch__Flush__MaxRequestBytes", "99999999")]
    [InlineData("BulkDispatch__Flush__ReceiveWaitTime", "00:00:30")]
    [InlineData("BulkDispatch__Sqs__QueueUrl", "not a url")]
    [InlineData("BulkDispatch__Sqs__ServiceUrl", "ftp://x")]
    [InlineData("BulkDispatch__Optimizely__EndpointOverride", "localhost:8080")]
    [InlineData("BulkDispatch__Optimizely__AllowedEndpoints", "https://logx.optimizely.com/v1/events,nope")]
    [InlineData("BulkDispatch__Optimizely__Strict", "maybe")]
    public void A_bad_setting_is_named_with_an_example(string name, string value)
    {
        var error = Fails((name, value));
        var line = Assert.Single(error.Errors);
        Assert.StartsWith(name + ":", line, StringComparison.Ordinal);
        Assert.Contains("Example", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_setting_is_reported_at_once()
    {
        var error = Fails(
            ("BulkDispatch__Flush__ReceiveConcurrency", "0"),
            ("BulkDispatch__Flush__SendConcurrency", "100"),
            ("BulkDispatch__Sqs__Region", ""));
        Assert.Equal(3, error.Errors.Count);
    }

    [Fact]
    public void An_unresolved_key_vault_reference_says_so_without_echoing_the_value()
    {
        const string reference = "@Microsoft.KeyVault(SecretUri=https://vault.vault.azure.net/secrets/queue-url/)";
        var error = Fails(("BulkDispatch__Sqs__QueueUrl", reference));
        Assert.Contains(error.Errors, e => e.StartsWith("BulkDispatch__Sqs__QueueUrl: the Key Vault reference did not resolve", StringComparison.Ordinal));
        Assert.DoesNotContain("vault.vault.azure.net", error.Message, StringComparison.Ordinal);
    }
}
