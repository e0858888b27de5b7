using Amazon.Runtime;
using Amazon.SQS;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.QueueOperations;
using BulkDispatch.QueueOperations.Redrive;
using BulkDispatch.QueueOperations.Statistics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.UnitTests.QueueOperations;

/// <summary><c>AddBulkDispatchQueueOperations</c>: settings checked before any client is made, nothing sent when they are bad.</summary>
public sealed class RegistrationTests
{
    [Fact]
    public async Task Bad_settings_are_all_named_by_each_operation_before_any_sqs_request()
    {
        using var client = new AmazonSQSClient(new BasicAWSCredentials("unit", "unit"), new AmazonSQSConfig { ServiceURL = "http://127.0.0.1:9", AuthenticationRegion = "us-west-2" });
        int requests = 0;
        client.BeforeRequestEvent += (_, _) => Interlocked.Increment(ref requests);
        var services = new ServiceCollection();
        services.AddKeyedSingleton<IAmazonSQS>(QueueOperationsServiceCollectionExtensions.SqsServiceKey, client);
        services.AddBulkDispatchQueueOperations(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["BulkDispatch:Sqs:QueueUrl"] = "not a url",
            ["BulkDispatch:Aws:Credentials"] = "Nope",
            ["BulkDispatch:Flush:MaxDuration"] = "not read by the queue operations",
        }).Build());
        await using var provider = services.BuildServiceProvider();

        var inspect = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => provider.GetRequiredService<QueueInspector>().InspectAsync());
        var redrive = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => provider.GetRequiredService<DeadLetterRedriver>().RedriveAsync());

        foreach (var error in new[] { inspect, redrive })
        {
            Assert.Equal(2, error.Errors.Count);
            Assert.Contains(error.Errors, e => e.StartsWith("BulkDispatch__Sqs__QueueUrl:", StringComparison.Ordinal));
            Assert.Contains(error.Errors, e => e.StartsWith("BulkDispatch__Aws__Credentials:", StringComparison.Ordinal));
        }

        Assert.Equal(0, requests);
    }

    [Fact]
    public async Task Arguments_out_of_range_are_refused_before_anything_is_read()
    {
        var services = new ServiceCollection().AddBulkDispatchQueueOperations(new ConfigurationBuilder().Build());
        await using var provider = services.BuildServiceProvider();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => provider.GetRequiredService<QueueInspector>().InspectAsync(0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => provider.GetRequiredService<QueueInspector>().InspectAsync(QueueInspector.MaxReasonSampleLimit + 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => provider.GetRequiredService<DeadLetterRedriver>().RedriveAsync(new RedriveOptions { Max = 0 }));
        await Assert.ThrowsAsync<ArgumentException>(() => provider.GetRequiredService<DeadLetterRedriver>().RedriveAsync(new RedriveOptions { Reasons = [""] }));
    }
}
