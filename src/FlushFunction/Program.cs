using BulkDispatch.Flush;
using BulkDispatch.FlushFunction;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

// The same registration as `bulkdispatch flush` and `serve`: one engine, one set of settings
// (app settings / local.settings.json Values arrive as environment variables, `__` = section).
var builder = FunctionsApplication.CreateBuilder(args);
WorkerLogLevels.AddDefaults(builder.Configuration);

// No validation at start: a worker that dies at start is restarted by the host in a loop, with no run to show.
// Bad settings fail each invocation instead, naming every one (the engine checks them before it receives).
builder.Services.AddBulkDispatchFlush(builder.Configuration, o => o.ValidateOnStart = false);
builder.Build().Run();
