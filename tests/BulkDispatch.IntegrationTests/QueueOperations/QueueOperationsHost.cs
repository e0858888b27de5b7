using Amazon.SQS;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.QueueOperations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.IntegrationTests.QueueOperations;

/// <summary>The queue operations as a host registers them, pointed at a harness's queues on the emulator.</summary>
internal static class QueueOperationsHost
{
    /// <summary>
    /// <c>AddBulkDispatchQueueOperations</c> over the harness's queue settings (and <paramref name="settings"/>, config keys
    /// with ':'), with <paramref name="client"/> (default: an emulator client) registered under the library's key first,
    /// as a host that brings its own client does.
    /// </summary>
    public static ServiceProvider Create(FlushHarness h, IReadOnlyDictionary<string, string?>? settings = null, IAmazonSQS? client = null, TimeProvider? time = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["BulkDispatch:Sqs:QueueUrl"] = h.QueueUrl,
            ["BulkDispatch:Sqs:ServiceUrl"] = h.Emulator.ServiceUrl.ToString(),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var services = new ServiceCollection();
        services.AddKeyedSingleton(QueueOperationsServiceCollectionExtensions.SqsServiceKey, client ?? h.Emulator.CreateClient());
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddBulkDispatchQueueOperations(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        return services.BuildServiceProvider();
    }
}
