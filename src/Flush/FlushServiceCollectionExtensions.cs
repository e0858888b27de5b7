using Amazon.SQS;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Credentials;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Queue;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace BulkDispatch.Flush;

/// <summary>Registers the flush engine; every host (Functions, <c>bulkdispatch</c>) calls this one method.</summary>
public static class FlushServiceCollectionExtensions
{
    /// <summary>
    /// The service key of the flush's own <see cref="IAmazonSQS"/> and <see cref="SqsGateway"/>. An application's
    /// unkeyed <see cref="IAmazonSQS"/> is never used by the flush; to give the flush a client of your own on purpose,
    /// register it under this key before calling <see cref="AddBulkDispatchFlush"/>:
    /// <c>services.AddKeyedSingleton&lt;IAmazonSQS&gt;(FlushServiceCollectionExtensions.SqsServiceKey, myClient)</c>
    /// (it then signs with its own credentials: <c>BulkDispatch__Aws__Credentials</c> does not apply to it).
    /// </summary>
    public const string SqsServiceKey = "BulkDispatch.Flush";

    /// <summary>
    /// Adds <see cref="FlushEngine"/> and what it needs, bound to the <c>BulkDispatch:*</c> settings of
    /// <paramref name="configuration"/>. Services already registered (for example a <see cref="TimeProvider"/>, or an
    /// <see cref="IAmazonSQS"/> under <see cref="SqsServiceKey"/>) are kept.
    /// </summary>
    /// <param name="services">The container.</param>
    /// <param name="configuration">The settings (<c>BulkDispatch:Sqs</c>, <c>BulkDispatch:Flush</c>, ...).</param>
    /// <param name="configure">Registration choices, e.g. <see cref="FlushRegistrationOptions.ValidateOnStart"/>.</param>
    public static IServiceCollection AddBulkDispatchFlush(this IServiceCollection services, IConfiguration configuration, Action<FlushRegistrationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var registration = new FlushRegistrationOptions();
        configure?.Invoke(registration);
        bool onStart = registration.ValidateOnStart;

        services.AddSettings(configuration, FlushOptions.Section, new FlushOptionsValidator(configuration), onStart);
        services.AddSettings(configuration, OptimizelyOptions.Section, new OptimizelyOptionsValidator(configuration), onStart);
        services.AddSettings(configuration, LegacyOptions.Section, new LegacyOptionsValidator(configuration), onStart);
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddLogging();
        services.TryAddSingleton<FlushMetrics>();
        services.TryAddSingleton<SettingsValidation>();
        services.AddBulkDispatchSqsGateway(configuration, SqsServiceKey, onStart);
        services.TryAddSingleton<OptimizelyClient>();

        services.AddHttpClient(OptimizelyClient.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .AddResilienceHandler("optimizely", (pipeline, context) =>
            {
                var o = context.ServiceProvider.GetRequiredService<IOptions<OptimizelyOptions>>().Value;
                pipeline
                    .AddRetry(new HttpRetryStrategyOptions
                    {
                        MaxRetryAttempts = Math.Max(o.MaxRetries, 1),
                        ShouldHandle = o.MaxRetries == 0 ? _ => PredicateResult.False() : new HttpRetryStrategyOptions().ShouldHandle,
                        BackoffType = DelayBackoffType.Exponential,
                        UseJitter = true,
                        Delay = o.RetryBaseDelay,
                        MaxDelay = TimeSpan.FromSeconds(Math.Max(30, o.RetryBaseDelay.TotalSeconds)),
                        ShouldRetryAfterHeader = true,
                    })
                    .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
                    {
                        FailureRatio = 0.5,
                        MinimumThroughput = 20,
                        SamplingDuration = TimeSpan.FromSeconds(30),
                        BreakDuration = o.CircuitBreakDuration,
                    })
                    .AddTimeout(o.AttemptTimeout);
            });

        services.TryAddSingleton(sp => new FlushEngine(
            new Lazy<SqsGateway>(() => sp.GetRequiredKeyedService<SqsGateway>(SqsServiceKey)),
            sp.GetRequiredService<OptimizelyClient>(),
            sp.GetRequiredService<SettingsValidation>(),
            sp.GetRequiredService<IOptions<SqsOptions>>(),
            sp.GetRequiredService<IOptions<FlushOptions>>(),
            sp.GetRequiredService<IOptions<OptimizelyOptions>>(),
            sp.GetRequiredService<IOptions<LegacyOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<FlushMetrics>(),
            sp.GetRequiredService<ILogger<FlushEngine>>()));
        return services;
    }
}
