using System.Diagnostics.Metrics;
using Amazon.SQS;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Producer;

/// <summary>Registers the producer in an application's container.</summary>
public static class ProducerServiceCollectionExtensions
{
    /// <summary>
    /// The service key of the producer's <see cref="IAmazonSQS"/>. An application's own unkeyed <see cref="IAmazonSQS"/>
    /// (e.g. for its other queues) is never used by the producer; to give the producer a client on purpose (other
    /// credentials, a proxy), register it under this key before calling <see cref="AddBulkDispatchProducer"/>:
    /// <c>services.AddKeyedSingleton&lt;IAmazonSQS&gt;(ProducerServiceCollectionExtensions.SqsServiceKey, myClient)</c>.
    /// </summary>
    public const string SqsServiceKey = "BulkDispatch.Producer";

    /// <summary>
    /// Adds <see cref="SqsEventPublisher"/> as a singleton bound to the <c>BulkDispatch:Sqs</c> and
    /// <c>BulkDispatch:Producer</c> settings (validated when the host starts), and a hosted service that
    /// sends what is buffered when the application stops. The publisher uses the <see cref="IAmazonSQS"/> registered
    /// under <see cref="SqsServiceKey"/>, by default a client of its own with the AWS SDK's default credentials, and the
    /// container's <see cref="IMeterFactory"/> (if any) for its <c>BulkDispatch.Producer</c> meter.
    /// </summary>
    public static IServiceCollection AddBulkDispatchProducer(this IServiceCollection services, IConfiguration configuration)
    {
        if (services is null)
        {
            throw new ArgumentNullException(nameof(services));
        }

        if (configuration is null)
        {
            throw new ArgumentNullException(nameof(configuration));
        }

        // The queue settings are the flush's too: one SqsOptions, composed, bound from BulkDispatch:Sqs.
        services.AddSettings(configuration, ProducerOptions.Section, new ProducerOptionsValidator(configuration), validateOnStart: true)
            .Configure(o => SettingsBinder.Bind(configuration.GetSection(SqsOptions.Section), o.Sqs));
        services.TryAddKeyedSingleton<IAmazonSQS>(SqsServiceKey, (sp, _) => CreateOwnedClient(sp.GetRequiredService<IOptions<ProducerOptions>>().Value));
        services.TryAddSingleton(sp => new SqsEventPublisher(
            sp.GetRequiredService<IOptions<ProducerOptions>>().Value,
            sp.GetRequiredKeyedService<IAmazonSQS>(SqsServiceKey),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetService<IMeterFactory>(), // the host's (AddMetrics); without one, a process-wide meter
            TimeProvider.System,
            ownsClient: false)); // the container disposes the client it made
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PublisherShutdown>());
        return services;
    }

    internal static IAmazonSQS CreateOwnedClient(ProducerOptions options) => SqsClientFactory.Create(options.Sqs.Region, options.Sqs.ServiceUrl);

    /// <summary>Sends the buffered events when the application stops (the container disposes the publisher after).</summary>
    private sealed class PublisherShutdown(SqsEventPublisher publisher) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => publisher.FlushAsync(cancellationToken);
    }
}
