using System.CommandLine;
using BulkDispatch.Cli;
using BulkDispatch.Cli.Commands;

var root = new RootCommand("""
    bulkdispatch: durable, bulk delivery of Optimizely Feature Experimentation events from an SQS queue
    to the Optimizely Event API. Settings come from appsettings.json, the environment
    (BulkDispatch__Section__Name), --settings FILE and --set NAME=VALUE, in that order.
    """)
{
    FlushCommand.Create(),
    ServeCommand.Create(),
    DemoCommand.Create(),
    StatsCommand.Create(),
    RedriveCommand.Create(),
};

try
{
    // Our own handler below, not System.CommandLine's (which returns 1, the code for "incomplete").
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception ex)
{
    await Console.Error.WriteLineAsync($"bulkdispatch: unexpected error: {ex}");
    return ExitCodes.Failed;
}
