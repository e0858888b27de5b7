using System.CommandLine;
using System.Globalization;
using System.Net;
using BulkDispatch.Cli.Metrics;
using BulkDispatch.Cli.Serve;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace BulkDispatch.Cli.Commands;

/// <summary>
/// <c>bulkdispatch serve</c>: a long-running service (container, VM, systemd) that runs the flush on <c>FlushSchedule</c>,
/// as the Azure Functions timer does, one run at a time, and finishes the run in flight on SIGTERM or Ctrl-C.
/// </summary>
internal static class ServeCommand
{
    /// <summary>After MaxDuration + SendGrace, how long the engine may still spend releasing what it holds.</summary>
    internal static readonly TimeSpan EngineFinalMargin = TimeSpan.FromSeconds(15);

    /// <summary>How much longer than a run's whole budget (MaxDuration + SendGrace + <see cref="EngineFinalMargin"/>) shutdown may take.</summary>
    internal static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(15);

    private static readonly Option<bool> RunOnStart = new("--run-on-start")
    {
        Description = "Also run once at start, before the first tick of the schedule.",
    };

    private static readonly Option<int?> MetricsPort = new("--metrics-port")
    {
        Description = "Serve the BulkDispatch.* meters in Prometheus text format on http://127.0.0.1:PORT/metrics (loopback only).",
        HelpName = "PORT",
    };

    public static Command Create()
    {
        var command = new Command("serve", """
            Run the flush on a schedule until stopped: the FlushSchedule setting, a six-field NCRONTAB expression
            read as the Azure Functions timer reads it (default 0 */1 * * * *, every minute), in UTC unless
            WEBSITE_TIME_ZONE or TZ names a time zone. Never runs twice at once: a tick that arrives while a run
            is in progress is skipped and logged. Logs one line per run. On SIGTERM or Ctrl-C it stops receiving,
            lets the run in flight send what it holds (within MaxDuration + SendGrace of its start), and exits 0;
            give it that long to stop (e.g. terminationGracePeriodSeconds in Kubernetes).

            Examples:
              bulkdispatch serve --settings local.settings.json
              FlushSchedule="*/30 * * * * *" bulkdispatch serve --run-on-start --metrics-port 9464
              bulkdispatch serve --set FlushSchedule="0 */5 * * * *" --set WEBSITE_TIME_ZONE=Europe/Berlin

            Exit codes: 0 stopped by a signal, 2 bad configuration (nothing received), 3 unexpected error.
            """)
        {
            CommonOptions.SettingsFile, CommonOptions.Set, CommonOptions.Verbose, RunOnStart, MetricsPort,
        };

        // Synchronous on purpose: System.CommandLine gives an asynchronous action only its ProcessTerminationTimeout
        // (2 s) after SIGTERM or Ctrl-C before it ends the process with 143 or 130, which would cut the run in flight.
        // Here the generic host's console lifetime handles those signals and waits for the run.
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        IConfiguration configuration;
        try
        {
            configuration = Settings.Build(parse.GetValue(CommonOptions.SettingsFile), parse.GetValue(CommonOptions.Set) ?? []);
        }
        catch (SettingsFileException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return ExitCodes.BadConfiguration;
        }

        var errors = new List<string>();
        ServeOptions? options = null;
        try
        {
            options = new ServeOptions(FlushSchedule.FromConfiguration(configuration), parse.GetValue(RunOnStart));
        }
        catch (ServeConfigurationException ex)
        {
            errors.AddRange(ex.Errors);
        }

        int? metricsPort = parse.GetValue(MetricsPort);
        if (metricsPort is < 1 or > 65535)
        {
            errors.Add($"--metrics-port: {metricsPort} is not a TCP port. Example: --metrics-port 9464.");
        }
        else if (metricsPort is int port && PortInUse(port) is { } problem)
        {
            errors.Add(MetricsPortProblem(port, problem));
        }

        // The settings are checked before the host is built, so every problem is listed at once and nothing is received.
        FlushOptions? flush = null;
        using (var check = new ServiceCollection().AddBulkDispatchFlush(configuration).BuildServiceProvider())
        {
            try
            {
                check.GetRequiredService<FlushEngine>().ThrowIfSettingsInvalid();
                flush = check.GetRequiredService<IOptions<FlushOptions>>().Value;
            }
            catch (BulkDispatchConfigurationException ex)
            {
                errors.AddRange(ex.Errors);
            }
        }

        if (errors.Count > 0)
        {
            Console.Error.WriteLine("bulkdispatch serve is not configured correctly:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)));
            Console.Error.WriteLine("Nothing was received. Fix the settings above and run again (see README: Settings).");
            return ExitCodes.BadConfiguration;
        }

        // Stopping waits for the run in flight: receiving stops at once, sending may take until the run's own deadline.
        var shutdownTimeout = flush!.MaxDuration + flush.SendGrace + EngineFinalMargin + ShutdownMargin;
        using var host = BuildHost(configuration, parse.GetValue(CommonOptions.Verbose), options!, metricsPort, shutdownTimeout);
        try
        {
            host.RunAsync().GetAwaiter().GetResult();
        }
        catch (Exception ex) when (metricsPort is int port && Find<HttpListenerException>(ex) is { } listener)
        {
            // Taken between the check above and the start.
            Console.Error.WriteLine(MetricsPortProblem(port, listener.Message));
            return ExitCodes.BadConfiguration;
        }

        return ExitCodes.Complete;
    }

    /// <summary>Why the metrics port cannot be listened on, or <see langword="null"/> when it can.</summary>
    private static string? PortInUse(int port)
    {
        try
        {
            using var probe = new HttpListener();
            probe.Prefixes.Add(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/"));
            probe.Start();
            return null;
        }
        catch (HttpListenerException ex)
        {
            return ex.Message;
        }
    }

    private static string MetricsPortProblem(int port, string problem) => string.Create(CultureInfo.InvariantCulture,
        $"--metrics-port: cannot listen on http://127.0.0.1:{port}/metrics ({problem}). Pick a free port. Example: --metrics-port 9464.");

    private static T? Find<T>(Exception? ex)
        where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T found)
            {
                return found;
            }
        }

        return null;
    }

    private static IHost BuildHost(IConfiguration configuration, bool verbose, ServeOptions options, int? metricsPort, TimeSpan shutdownTimeout)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "bulkdispatch" });
        builder.Configuration.AddConfiguration(configuration);
        builder.Logging
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
            .AddConfiguration(configuration.GetSection("Logging"))
            .SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning)
            .AddFilter(ServeService.LogCategory, LogLevel.Information) // the run lines, with or without --verbose
            .AddFilter(typeof(FlushEngine).FullName, LogLevel.Information); // and each run's report, logged once by the engine
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        builder.Services.AddBulkDispatchFlush(configuration);

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout);
        builder.Services.AddSingleton(options);
        builder.Services.AddHostedService<ServeService>();

        if (metricsPort is int port)
        {
            builder.Services.AddSingleton(services => new MetricsEndpoint(port, services.GetRequiredService<ILogger<MetricsEndpoint>>()));
            builder.Services.AddHostedService(services => services.GetRequiredService<MetricsEndpoint>());
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService("bulkdispatch"))
                .WithMetrics(metrics => metrics
                    .AddMeter("BulkDispatch.*")
                    .AddReader(services => services.GetRequiredService<MetricsEndpoint>().Reader));
        }

        return builder.Build();
    }
}
