using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Engine;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>
/// The whole path with <c>Credentials=KeyVault</c>: a flush built by <c>AddBulkDispatchFlush</c> gets its AWS key only from
/// the vault, drains a queue on an emulator that serves only that key, and survives a rotation of vault and emulator.
/// </summary>
public sealed class KeyVaultFlushTests(GuardedEmulatorFixture fixture) : IClassFixture<GuardedEmulatorFixture>
{
    [Fact]
    public async Task A_flush_delivers_with_the_vaults_key_and_after_a_rotation_needs_exactly_one_re_read()
    {
        await fixture.Emulator.RequireAccessKeyAsync(GuardedEmulatorFixture.FirstKeyId);
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        var settings = new Dictionary<string, string?>(FlushHarness.FastSettings)
        {
            ["BulkDispatch:Sqs:QueueUrl"] = h.QueueUrl,
            ["BulkDispatch:Sqs:ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
            ["BulkDispatch:Optimizely:EndpointOverride"] = h.EventApi.EventsUrl.ToString(),
        };
        var engine = setup.Services(settings).GetRequiredService<FlushEngine>();
        var events = TestVectors.All.Take(20).Select(v => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, DateTimeOffset.UtcNow)).ToList();

        await h.EnqueueAsync(FlushHarness.Messages(events[..10], perMessage: 2));
        var first = await engine.RunAsync();

        Assert.True(first.Complete, first.ToText());
        Assert.Equal(10, first.EventsDelivered);
        Assert.Equal(1, setup.Vault.Reads["aws-secret-access-key"]);
        Assert.Empty(setup.Logs.Warnings);

        // Rotation: a new key in the vault, and AWS (the emulator) accepts only the new one from now on.
        setup.StoreKey("AKIAROTATEDKEY000003");
        await fixture.Emulator.RequireAccessKeyAsync("AKIAROTATEDKEY000003");
        await h.EnqueueAsync(FlushHarness.Messages(events[10..], perMessage: 2));
        var second = await engine.RunAsync();

        Assert.True(second.Complete, second.ToText());
        Assert.Equal(10, second.EventsDelivered);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(2, setup.Vault.Reads["aws-secret-access-key"]);
        Assert.Single(setup.Logs.Warnings);
        Assert.Contains("AWS refused the credentials (InvalidClientTokenId)", setup.Logs.Warnings.Single(), StringComparison.Ordinal);
        var expected = events.SelectMany(e => TestVectors.VisitorsOf(e.Body)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, h.AcceptedVisitors().Order(StringComparer.Ordinal).ToList());
        setup.AssertNoSecretIn(first.ToText(), second.ToText(), FlushCommandJson(first), FlushCommandJson(second));
    }

    [Fact]
    public async Task The_requests_of_a_flush_signed_with_the_vaults_key_are_counted()
    {
        // The counter hooks the AWS client's own request events: it counted nothing while a reflection proxy stood in front of it.
        await fixture.Emulator.RequireAccessKeyAsync(GuardedEmulatorFixture.FirstKeyId);
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        var services = setup.Services(new Dictionary<string, string?>(FlushHarness.FastSettings)
        {
            ["BulkDispatch:Sqs:QueueUrl"] = h.QueueUrl,
            ["BulkDispatch:Sqs:ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
            ["BulkDispatch:Optimizely:EndpointOverride"] = h.EventApi.EventsUrl.ToString(),
        });
        var counter = BulkDispatch.Cli.SqsRequestCounter.Attach(services.GetRequiredKeyedService<Amazon.SQS.IAmazonSQS>(BulkDispatch.Flush.FlushServiceCollectionExtensions.SqsServiceKey));
        var events = TestVectors.All.Take(10).Select(v => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, DateTimeOffset.UtcNow)).ToList();
        await h.EnqueueAsync(FlushHarness.Messages(events, perMessage: 2));

        var report = await services.GetRequiredService<FlushEngine>().RunAsync();
        var counts = counter.Snapshot();

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(1, setup.Vault.Reads["aws-secret-access-key"]);
        Assert.True(counts["ReceiveMessage"].Requests >= report.MessagesReceived / 10 + 1, string.Join(", ", counts));
        Assert.True(counts["ReceiveMessage"].BilledUnits >= 1);
        Assert.True(counts["DeleteMessageBatch"].Requests >= 1);
        Assert.True(counts["GetQueueAttributes"].Requests >= 1);
    }

    private static string FlushCommandJson(BulkDispatch.Flush.Reporting.FlushReport report) => BulkDispatch.Cli.Commands.FlushCommand.ToJson(report);
}
