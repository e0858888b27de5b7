using System.CommandLine;
using System.CommandLine.Invocation;
using BulkDispatch.Cli;
using BulkDispatch.Cli.Commands;

var root = new RootCommand("""
    bulkdispatch: durable, bulk delivery of Optimizely Feature Experimentation events from an SQS queue
    to the Optimizely Event API. Settings come from appsettings.json, the environment
    (BulkDispatch__Section__Name), --settings FILE and --set NAME=VALUE, in that order.
    Exit codes: 0 complete, 1 incomplete (try again), 2 bad configuration or arguments, 3 unexpected error.
    """)
{
    FlushCommand.Create(),
    ServeCommand.Create(),
    DemoCommand.Create(),
    StatsCommand.Create(),
    RedriveCommand.Create(),
};

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // System.CommandLine would print the whole help and return 1, the code for "incomplete".
    foreach (var error in parse.Errors)
    {
        await Console.Error.WriteLineAsync("bulkdispatch: " + error.Message);
    }

    await Console.Error.WriteLineAsync($"Run '{CommandPath(parse.CommandResult)} --help' for the options and examples.");
    return ExitCodes.BadConfiguration;
}

using var interrupt = parse.Action is SynchronousCommandLineAction ? null : new Interrupt();
try
{
    var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
    return await parse.InvokeAsync(configuration, interrupt?.Token ?? CancellationToken.None);
}
catch (OperationCanceledException) when (interrupt?.Requested == true)
{
    await Console.Error.WriteLineAsync("bulkdispatch: stopped before it finished; what it started was stopped.");
    return ExitCodes.Incomplete;
}
catch (Exception ex)
{
    // One line; the stack trace only when asked for, since it helps a bug report but not the person at the terminal.
    await Console.Error.WriteLineAsync($"bulkdispatch: unexpected error: {ex.GetType().Name}: {OneLine(ex.Message)}");
    await Console.Error.WriteLineAsync(args.Contains("--verbose") || args.Contains("-v") ? ex.ToString() : "Run again with --verbose for the details.");
    return ExitCodes.Failed;
}

static string OneLine(string text) => string.Join(" ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

static string CommandPath(System.CommandLine.Parsing.CommandResult result)
{
    var names = new List<string>();
    for (var r = result; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
    {
        names.Insert(0, r.Command is RootCommand ? "bulkdispatch" : r.Command.Name);
    }

    return string.Join(' ', names);
}
