using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OptimizelySDK.Event.Dispatcher;

namespace BulkDispatch.Producer.Optimizely;

/// <summary>Registers the SQS event dispatcher for the Optimizely SDK.</summary>
public static class OptimizelyServiceCollectionExtensions
{
    /// <summary>
    /// Adds the producer (<c>AddBulkDispatchProducer</c>) and <see cref="SqsEventDispatcher"/> as the
    /// <see cref="IEventDispatcher"/>, to pass to <c>OptimizelyFactory</c> / the <c>Optimizely</c> constructor.
    /// </summary>
    public static IServiceCollection AddOptimizelySqsEventDispatcher(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddBulkDispatchProducer(configuration);
        services.TryAddSingleton(sp => new SqsEventDispatcher(sp.GetRequiredService<SqsEventPublisher>()));
        services.TryAddSingleton<IEventDispatcher>(sp => sp.GetRequiredService<SqsEventDispatcher>());
        return services;
    }
}
