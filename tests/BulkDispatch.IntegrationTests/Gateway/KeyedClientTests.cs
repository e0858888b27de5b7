using Amazon.Runtime;
using Amazon.SQS;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.IntegrationTests.Gateway;

/// <summary>The flush uses the SQS client registered under its own key, never an application's own unkeyed one.</summary>
public sealed class KeyedClientTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task An_applications_own_sqs_client_is_not_used_by_the_flush()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        var messages = FlushHarness.Messages(DemoEvents.Generate(30, seed: 61), perMessage: 3).ToList();
        await h.EnqueueAsync(messages);
        // An application's client for its other queues, pointing nowhere the flush could use.
        using var applicationsOwn = new AmazonSQSClient(new BasicAWSCredentials("app", "app"), new AmazonSQSConfig { ServiceURL = "http://127.0.0.1:9", AuthenticationRegion = "us-west-2" });
        int applicationRequests = 0;
        applicationsOwn.BeforeRequestEvent += (_, _) => Interlocked.Increment(ref applicationRequests);

        var report = await h.CreateEngine(configure: services => services.AddSingleton<IAmazonSQS>(applicationsOwn)).RunAsync();

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(messages.Count, report.MessagesDeleted);
        Assert.Equal(0, applicationRequests);
    }
}
