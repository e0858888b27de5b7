using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush;
using BulkDispatch.IntegrationTests.Credentials;
using BulkDispatch.QueueOperations;
using BulkDispatch.QueueOperations.Statistics;
using BulkDispatch.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.IntegrationTests.QueueOperations;

/// <summary>
/// The queue operations' client is made from the settings by the flush's one credentials registration: with
/// <c>Credentials=KeyVault</c> against the emulator that serves only the key it requires, both clients sign with the
/// one key read from the vault, and a rotation is picked up by either (one vault read serves both).
/// </summary>
public sealed class SharedCredentialsTests(GuardedEmulatorFixture fixture) : IClassFixture<GuardedEmulatorFixture>
{
    private const string SecondKeyId = "AKIASECONDKEY0000003";

    [Fact]
    public async Task The_queue_operations_and_the_flush_sign_with_the_vaults_key_and_both_follow_a_rotation()
    {
        await fixture.Emulator.RequireAccessKeyAsync(GuardedEmulatorFixture.FirstKeyId);
        var (queue, _) = await fixture.Emulator.CreateQueueWithDeadLetterQueueAsync("shared-" + Guid.NewGuid().ToString("N")[..8], 30, 5);
        await using var setup = await KeyVaultSetup.StartAsync(GuardedEmulatorFixture.FirstKeyId);
        var services = setup.Services(
            new Dictionary<string, string?> { ["BulkDispatch:Sqs:ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(), ["BulkDispatch:Sqs:QueueUrl"] = queue },
            alsoRegister: (s, c) => s.AddBulkDispatchQueueOperations(c));
        var inspector = services.GetRequiredService<QueueInspector>();
        var flushGateway = services.GetRequiredKeyedService<SqsGateway>(FlushServiceCollectionExtensions.SqsServiceKey);
        Assert.NotSame(flushGateway, services.GetRequiredKeyedService<SqsGateway>(QueueOperationsServiceCollectionExtensions.SqsServiceKey));

        Assert.Equal(queue, (await inspector.InspectAsync()).Queue.Url);
        await KeyVaultSetup.ListQueuesAsync(flushGateway);
        Assert.Equal(1, setup.Vault.Reads["aws-access-key-id"]);

        // Rotation: the queue operations' next call is refused once, reads the vault again and succeeds; the flush's
        // client then signs with the new key without reading the vault itself.
        setup.StoreKey(SecondKeyId);
        await fixture.Emulator.RequireAccessKeyAsync(SecondKeyId);
        Assert.NotNull((await inspector.InspectAsync()).DeadLetterQueue);
        await KeyVaultSetup.ListQueuesAsync(flushGateway);

        Assert.Equal(2, setup.Vault.Reads["aws-access-key-id"]);
        Assert.Single(setup.Logs.Warnings, w => w.Contains("AWS refused the credentials (InvalidClientTokenId)", StringComparison.Ordinal));
        setup.AssertNoSecretIn();
    }
}
