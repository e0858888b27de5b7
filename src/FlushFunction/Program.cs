using BulkDispatch.Flush;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

// The same registration as `bulkdispatch flush` and `serve`: one engine, one set of settings
// (app settings / local.settings.json Values arrive as environment variables, `__` = section).
var builder = FunctionsApplication.CreateBuilder(args);
builder.Services.AddBulkDispatchFlush(builder.Configuration);
builder.Build().Run();
