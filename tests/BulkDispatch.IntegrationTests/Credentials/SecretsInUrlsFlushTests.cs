using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.TestKit;
using BulkDispatch.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>
/// A password in the vault, SQS endpoint or Event API URL (which work with one) or in a queue URL appears in no log
/// line, report or error: every URL shown has its userinfo and query redacted.
/// </summary>
public sealed class SecretsInUrlsFlushTests(GuardedEmulatorFixture fixture) : IClassFixture<GuardedEmulatorFixture>
{
    private const string Secret = "P4SSW0RD-do-not-print";

    [Fact]
    public async Task A_run_with_passwords_in_every_url_setting_prints_none_of_them()
    {
        await fixture.Emulator.RequireAccessKeyAsync(GuardedEmulatorFixture.FirstKeyId);
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        var events = TestVectors.All.Take(6).Select(v => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, DateTimeOffset.UtcNow)).ToList();
        await h.EnqueueAsync([.. FlushHarness.Messages(events, perMessage: 2), "not a wire-format message"]);
        var services = setup.Services(new Dictionary<string, string?>(FlushHarness.FastSettings)
        {
            ["BulkDispatch:KeyVault:VaultUri"] = WithPassword(setup.Vault.VaultUri.ToString()),
            // The emulator finds queues by their exact URL, so the queue URLs go without one here (the next test has one).
            ["BulkDispatch:Sqs:QueueUrl"] = h.QueueUrl,
            ["BulkDispatch:Sqs:ServiceUrl"] = WithPassword(fixture.Emulator.ServiceUrl.ToString()),
            ["BulkDispatch:Optimizely:EndpointOverride"] = WithPassword(h.EventApi.EventsUrl.ToString()),
        });

        var report = await services.GetRequiredService<FlushEngine>().RunAsync();

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(6, report.EventsDelivered);
        Assert.Equal(1, report.DeadLettered[DeadLetterReason.Undecodable]);
        Assert.Contains(setup.Logs.Records, r => r.Message.Contains("Read the AWS access key from Key Vault https://***@127.0.0.1", StringComparison.Ordinal));
        AssertNotPrinted(setup, report.ToText(), BulkDispatch.Cli.Commands.FlushCommand.ToJson(report));
    }

    [Fact]
    public async Task A_queue_that_does_not_exist_is_named_without_the_password_in_its_url()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        string missing = WithPassword(h.QueueUrl + "-missing") + "?token=" + Secret;
        var services = setup.Services(new Dictionary<string, string?>(FlushHarness.FastSettings)
        {
            ["BulkDispatch:Sqs:QueueUrl"] = missing,
            ["BulkDispatch:Sqs:ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
        });

        var error = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => services.GetRequiredService<FlushEngine>().RunAsync());

        Assert.StartsWith("BulkDispatch__Sqs__QueueUrl ('http://***@sqs.", error.Message.Split('\n')[1].Trim().TrimStart('-', ' '), StringComparison.Ordinal);
        Assert.Contains("the queue does not exist", error.Message, StringComparison.Ordinal);
        AssertNotPrinted(setup, error.ToString());
    }

    private static string WithPassword(string url) => url.Replace("://", $"://bulkdispatch:{Secret}@", StringComparison.Ordinal);

    private static void AssertNotPrinted(KeyVaultSetup setup, params string[] texts)
    {
        Assert.NotEmpty(setup.Logs.Records);
        Assert.DoesNotContain(setup.Logs.Records, r => r.Message.Contains(Secret, StringComparison.Ordinal));
        Assert.All(texts, t => Assert.DoesNotContain(Secret, t, StringComparison.Ordinal));
        setup.AssertNoSecretIn(texts);
    }
}
