using System.CommandLine;
using BulkDispatch.Cli.Commands;
using BulkDispatch.QueueOperations;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.Cli.Queues;

/// <summary>
/// The services of <c>stats</c> and <c>redrive</c>: the CLI's logging and the queue operations library, bound to the
/// settings of the command line (the flush's names; only the SQS, AWS and Key Vault ones are read).
/// </summary>
internal static class QueueCommandServices
{
    /// <exception cref="SettingsFileException">The settings file or an override cannot be read.</exception>
    public static ServiceProvider Build(ParseResult parse)
    {
        var configuration = Settings.Build(parse.GetValue(CommonOptions.SettingsFile), parse.GetValue(CommonOptions.Set) ?? []);
        var services = new ServiceCollection();
        CommonOptions.AddLogging(services, configuration, parse.GetValue(CommonOptions.Verbose));
        services.AddBulkDispatchQueueOperations(configuration);
        return services.BuildServiceProvider();
    }
}
