using Amazon.SQS;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Credentials;
using BulkDispatch.QueueOperations.Queues;
using BulkDispatch.QueueOperations.Redrive;
using BulkDispatch.QueueOperations.Statistics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace BulkDispatch.QueueOperations;

/// <summary>Registers the queue operations: <see cref="QueueInspector"/> and <see cref="DeadLetterRedriver"/>.</summary>
public static class QueueOperationsServiceCollectionExtensions
{
    /// <summary>
    /// The service key of the queue operations' own <see cref="IAmazonSQS"/> and <see cref="SqsGateway"/>. They sign with
    /// <c>BulkDispatch__Aws__Credentials</c> (the same credentials instance as the flush's client, when both are
    /// registered); an application's unkeyed <see cref="IAmazonSQS"/> is never used. To give them a client of your own,
    /// register it under this key before calling <see cref="AddBulkDispatchQueueOperations"/> (it then keeps its own credentials).
    /// </summary>
    public const string SqsServiceKey = "BulkDispatch.QueueOperations";

    /// <summary>
    /// Adds <see cref="QueueInspector"/> and <see cref="DeadLetterRedriver"/>, bound to the <c>BulkDispatch__Sqs__*</c>,
    /// <c>BulkDispatch__Aws__*</c> and <c>BulkDispatch__KeyVault__*</c> settings of <paramref name="configuration"/>, the
    /// flush's own. The settings are validated by every call, which throws <see cref="BulkDispatchConfigurationException"/>
    /// naming each bad one. Services already registered (a <see cref="TimeProvider"/>, a client under <see cref="SqsServiceKey"/>) are kept.
    /// </summary>
    /// <param name="services">The container.</param>
    /// <param name="configuration">The settings.</param>
    public static IServiceCollection AddBulkDispatchQueueOperations(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddBulkDispatchSqsGateway(configuration, SqsServiceKey);
        // The gateway is made on first use, after the settings were validated: making it reads them.
        services.TryAddSingleton(sp => new QueueResolver(() => sp.GetRequiredKeyedService<SqsGateway>(SqsServiceKey), sp.GetRequiredService<SqsConnectionSettings>()));
        services.TryAddSingleton(sp => new QueueInspector(sp.GetRequiredService<QueueResolver>()));
        services.TryAddSingleton(sp => new DeadLetterRedriver(sp.GetRequiredService<QueueResolver>(), sp.GetRequiredService<TimeProvider>()));
        return services;
    }
}
