using Amazon.SQS;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Credentials;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Engine;
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
    /// Adds <see cref="FlushEngine"/> and what it needs, bound to the <c>BulkDispatch:*</c> settings of
    /// <paramref name="configuration"/>. Services already registered (for example an <see cref="IAmazonSQS"/>
    /// or a <see cref="TimeProvider"/>) are kept.
    /// </summary>
    public static IServiceCollection AddBulkDispatchFlush(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<SqsOptions>().Bind(configuration.GetSection(SqsOptions.Section)).ValidateOnStart();
        services.AddOptions<FlushOptions>().Bind(configuration.GetSection(FlushOptions.Section)).ValidateOnStart();
        services.AddOptions<OptimizelyOptions>().Bind(configuration.GetSection(OptimizelyOptions.Section)).ValidateOnStart();
        services.AddOptions<LegacyOptions>().Bind(configuration.GetSection(LegacyOptions.Section));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SqsOptions>>(new DelegateOptionsValidator<SqsOptions>(SettingsValidation.Validate)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FlushOptions>>(new DelegateOptionsValidator<FlushOptions>(SettingsValidation.Validate)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OptimizelyOptions>>(new DelegateOptionsValidator<OptimizelyOptions>(SettingsValidation.Validate)));
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddLogging();
        services.TryAddSingleton<FlushMetrics>();
        services.TryAddSingleton(sp => new SettingsValidation(
            configuration.GetSection("BulkDispatch"),
            sp.GetRequiredService<IOptions<SqsOptions>>(),
            sp.GetRequiredService<IOptions<FlushOptions>>(),
            sp.GetRequiredService<IOptions<OptimizelyOptions>>(),
            sp.GetRequiredService<IOptions<LegacyOptions>>(),
            sp.GetRequiredService<IOptions<AwsCredentialsOptions>>(),
            sp.GetRequiredService<IOptions<KeyVaultOptions>>(),
            Environment.GetEnvironmentVariable));
        services.AddBulkDispatchAwsCredentials(configuration);
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
            new Lazy<IAmazonSQS>(sp.GetRequiredService<IAmazonSQS>),
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
