using System.CommandLine;
using BulkDispatch.Flush;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Cli.Commands;

/// <summary>Options every command takes, and the service setup they share.</summary>
internal static class CommonOptions
{
    public static readonly Option<FileInfo?> SettingsFile = new("--settings")
    {
        Description = "A local.settings.json-style file whose \"Values\" hold settings (BulkDispatch__Sqs__QueueUrl, ...). Overrides appsettings.json and the environment.",
    };

    public static readonly Option<string[]> Set = new("--set")
    {
        Description = "Override one setting: --set BulkDispatch__Flush__MaxDuration=00:01:00. Repeatable; wins over every other source.",
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print the report as JSON (for machines) instead of text.",
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Log progress (Information level) to standard error.",
    };

    public static ServiceProvider BuildServices(IConfiguration configuration, bool verbose, Action<IServiceCollection>? extra = null)
    {
        var services = new ServiceCollection();
        AddLogging(services, configuration, verbose);
        extra?.Invoke(services);
        services.AddBulkDispatchFlush(configuration);
        return services.BuildServiceProvider();
    }

    /// <summary>The CLI's logging: one line per entry on standard error, warnings and up unless <c>--verbose</c>.</summary>
    public static void AddLogging(IServiceCollection services, IConfiguration configuration, bool verbose)
    {
        services.AddLogging(logging => logging
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
            .AddConfiguration(configuration.GetSection("Logging"))
            .SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning));
        services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }
}
