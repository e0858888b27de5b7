using System.Text.Json;
using BulkDispatch.FunctionTests.Protocol;

namespace BulkDispatch.FunctionTests.Host;

/// <summary>
/// A stand-in host with the real worker connected to it: what one <c>func start</c> would run, for one set of app settings.
/// Disposing terminates nothing gracefully: it kills the worker and stops the server, also when a test failed half-way.
/// </summary>
internal sealed class FunctionAppWorker : IAsyncDisposable
{
    /// <summary>How long a worker may take to start and connect on a busy two-core machine.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);

    private FunctionAppWorker(StandInHost host, WorkerProcess process, HostSession session)
    {
        Host = host;
        Process = process;
        Session = session;
    }

    public StandInHost Host { get; }

    public WorkerProcess Process { get; }

    public HostSession Session { get; }

    public static async Task<FunctionAppWorker> StartAsync(IReadOnlyDictionary<string, string> appSettings)
    {
        var host = await StandInHost.StartAsync();
        WorkerProcess? process = null;
        try
        {
            process = WorkerProcess.Start(host.Endpoint, appSettings);
            var session = await host.AcceptAsync(process, ConnectTimeout);
            return new FunctionAppWorker(host, process, session);
        }
        catch
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }

            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// What the host does once the worker is connected: init, worker indexing, load. Checks each answer, and that indexing
    /// found exactly the one function this app has (a timer on <c>%FlushSchedule%</c>); returns its metadata.
    /// </summary>
    public async Task<RpcFunctionMetadata> IndexAndLoadAsync()
    {
        string app = WorkerProcess.AppDirectory;
        var init = await Session.InitAsync(app);
        AssertSucceeded(init.Result, "init");

        var indexed = await Session.GetFunctionMetadataAsync(app);
        AssertSucceeded(indexed.Result, "worker indexing");
        Assert.False(indexed.UseDefaultMetadataIndexing, "the worker asked the host to index functions.metadata itself");
        var flush = Assert.Single(indexed.FunctionMetadataResults);
        Assert.Equal("Flush", flush.Name);
        Assert.Equal("BulkDispatch.FlushFunction.dll", flush.ScriptFile);
        var (name, binding) = Assert.Single(flush.Bindings);
        Assert.Equal("timerTrigger", binding.Type);
        Assert.Equal(BindingInfo.Types.Direction.In, binding.Direction);
        using (var raw = JsonDocument.Parse(Assert.Single(flush.RawBindings)))
        {
            Assert.Equal(name, raw.RootElement.GetProperty("name").GetString());
            Assert.Equal("timerTrigger", raw.RootElement.GetProperty("type").GetString());
            Assert.Equal("%FlushSchedule%", raw.RootElement.GetProperty("schedule").GetString());
        }

        var load = await Session.LoadAsync(flush, app);
        Assert.Equal(flush.FunctionId, load.FunctionId);
        AssertSucceeded(load.Result, "load");
        return flush;
    }

    /// <summary>Runs one timer tick to its answer, as the host does when the schedule fires.</summary>
    public async Task<(string InvocationId, InvocationResponse Response)> TickAsync(RpcFunctionMetadata flush, bool isPastDue = false)
    {
        string id = await StartTickAsync(flush, isPastDue);
        return (id, await Session.WaitForInvocationAsync(id, InvocationTimeout));
    }

    /// <summary>How long a tick may take here: a flush run of these tests' size, on a busy machine.</summary>
    public static TimeSpan InvocationTimeout { get; } = TimeSpan.FromSeconds(90);

    public Task<string> StartTickAsync(RpcFunctionMetadata flush, bool isPastDue = false)
    {
        var now = DateTime.UtcNow;
        var last = isPastDue ? now.AddMinutes(-7) : now.AddMinutes(-1);
        return Session.StartTimerInvocationAsync(flush.FunctionId, flush.Bindings.Keys.Single(), isPastDue, last, now.AddMinutes(1));
    }

    /// <summary>Sends <c>WorkerTerminate</c> and returns the worker's exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        await Session.TerminateAsync(TimeSpan.FromSeconds(5));
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await Process.WaitForExitAsync(wait.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        await Host.DisposeAsync();
    }

    public static void AssertSucceeded(StatusResult result, string what) =>
        Assert.True(result.Status == StatusResult.Types.Status.Success, $"{what}: {result.Status} {result.Exception?.Message}");
}
