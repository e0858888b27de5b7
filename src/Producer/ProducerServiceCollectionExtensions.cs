using Amazon.SQS;
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
    /// Adds <see cref="SqsEventPublisher"/> as a singleton bound to the <c>BulkDispatch:Sqs</c> and
    /// <c>BulkDispatch:Producer</c> settings (validated when the host starts), and a hosted service that
    /// sends what is buffered when the application stops. An <see cref="IAmazonSQS"/> already registered
    /// is used; otherwise the publisher makes its own client with the AWS SDK's default credentials.
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

        services.AddOptions<ProducerOptions>()
            .Bind(configuration.GetSection(ProducerOptions.SqsSection))
            .Bind(configuration.GetSection(ProducerOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProducerOptions>, ProducerOptionsValidator>());
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ProducerOptions>>().Value;
            var loggers = sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            return sp.GetService<IAmazonSQS>() is { } sqs
                ? new SqsEventPublisher(options, sqs, loggers)
                : new SqsEventPublisher(options, CreateOwnedClient(options), loggers, TimeProvider.System, ownsClient: true);
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PublisherShutdown>());
        return services;
    }

    internal static IAmazonSQS CreateOwnedClient(ProducerOptions options) => SqsClientFactory.Create(options.Region, options.ServiceUrl);

    /// <summary>Fails the host's start with every invalid setting, each under its name.</summary>
    private sealed class ProducerOptionsValidator : IValidateOptions<ProducerOptions>
    {
        public ValidateOptionsResult Validate(string? name, ProducerOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail(errors.Select(e => "BulkDispatch producer setting " + e));
        }
    }

    /// <summary>Sends the buffered events when the application stops (the container disposes the publisher after).</summary>
    private sealed class PublisherShutdown(SqsEventPublisher publisher) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => publisher.FlushAsync(cancellationToken);
    }
}
