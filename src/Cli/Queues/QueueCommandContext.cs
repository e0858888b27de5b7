using System.CommandLine;
using BulkDispatch.Cli.Commands;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Cli.Queues;

/// <summary>
/// What <c>stats</c> and <c>redrive</c> share: the settings (validated like the flush's, so a bad one exits 2 naming it),
/// the flush's SQS gateway (its client and credentials, as every host makes them), and the queue and dead-letter queue resolved as the flush resolves them.
/// </summary>
internal sealed class QueueCommandContext : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private QueueCommandContext(ServiceProvider services, SqsGateway sqs, SqsOptions options, QueuePair queues)
    {
        _services = services;
        Sqs = sqs;
        Options = options;
        Queues = queues;
    }

    public SqsGateway Sqs { get; }

    public SqsOptions Options { get; }

    public QueuePair Queues { get; }

    /// <summary>The setting that names the queue, for messages.</summary>
    public string QueueSetting => string.IsNullOrWhiteSpace(Options.QueueUrl) ? "BulkDispatch__Sqs__QueueName" : "BulkDispatch__Sqs__QueueUrl";

    /// <summary>Where the dead-letter queue came from, for messages.</summary>
    public string DeadLetterQueueSetting => Queues.DeadLetterQueueFromSetting ? "BulkDispatch__Sqs__DeadLetterQueueUrl" : "the queue's RedrivePolicy target";

    /// <summary>Reads and validates the settings and resolves the queues.</summary>
    /// <exception cref="BulkDispatchConfigurationException">A setting is invalid, a queue does not exist, or SQS refuses access.</exception>
    /// <exception cref="SettingsFileException">The settings file or an override cannot be read.</exception>
    public static async Task<QueueCommandContext> OpenAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var configuration = Settings.Build(parse.GetValue(CommonOptions.SettingsFile), parse.GetValue(CommonOptions.Set) ?? []);
        var services = CommonOptions.BuildServices(configuration, parse.GetValue(CommonOptions.Verbose));
        try
        {
            services.GetRequiredService<FlushEngine>().ThrowIfSettingsInvalid();
            var options = services.GetRequiredService<IOptions<SqsOptions>>().Value;
            var sqs = services.GetRequiredKeyedService<SqsGateway>(FlushServiceCollectionExtensions.SqsServiceKey);
            var queues = await QueueInspector.ResolveAsync(sqs, options, cancellationToken);
            return new QueueCommandContext(services, sqs, options, queues);
        }
        catch
        {
            await services.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
