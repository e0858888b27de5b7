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
    public static IServiceCollection AddBulkDispatchFlush(this IServiceCollection services, IConfiguration configuration) =>
        AddBulkDispatchFlush(services, configuration, validateOnStart: true);

    /// <summary>
    /// Adds <see cref="FlushEngine"/> as <see cref="AddBulkDispatchFlush(IServiceCollection, IConfiguration)"/> does, choosing
    /// when bad settings are reported.
    /// </summary>
    /// <param name="services">The services to add to.</param>
    /// <param name="configuration">Where the <c>BulkDispatch:*</c> settings are read.</param>
    /// <param name="validateOnStart">
    /// <see langword="true"/>: a host with bad settings fails to start (the CLI's <c>serve</c>). <see langword="false"/>:
    /// the host starts whatever the settings, and every <see cref="FlushEngine.RunAsync(FlushRunOptions, CancellationToken)"/>
    /// throws <see cref="BulkDispatchConfigurationException"/> naming each bad setting before it receives anything. For hosts
    /// where a failed start is invisible: the Azure Functions host restarts a worker that dies at start in a loop, and its
    /// operator sees no failed run, only a function that never runs.
    /// </param>
    public static IServiceCollection AddBulkDispatchFlush(this IServiceCollection services, IConfiguration configuration, bool validateOnStart)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        BindSection<SqsOptions>(services, configuration, SqsOptions.Section, validateOnStart);
        BindSection<FlushOptions>(services, configuration, FlushOptions.Section, validateOnStart);
        BindSection<OptimizelyOptions>(services, configuration, OptimizelyOptions.Section, validateOnStart);
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

    // Without ValidateOnStart the validators below still run, on first use: SettingsValidation collects them per run.
    private static void BindSection<T>(IServiceCollection services, IConfiguration configuration, string section, bool validateOnStart)
        where T : class
    {
        var options = services.AddOptions<T>().Bind(configuration.GetSection(section));
        if (validateOnStart)
        {
            options.ValidateOnStart();
        }
    }
}
