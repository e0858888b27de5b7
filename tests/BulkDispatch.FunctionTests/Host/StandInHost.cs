using System.Net;
using BulkDispatch.FunctionTests.Protocol;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.FunctionTests.Host;

/// <summary>
/// The Functions host's side of the worker protocol: a gRPC server (Kestrel, HTTP/2 without TLS, loopback) that
/// serves <c>FunctionRpc.EventStream</c> to one worker and hands the conversation to the test as a <see cref="HostSession"/>.
/// </summary>
internal sealed class StandInHost : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;
    private readonly EventStreamService _service;

    private StandInHost(WebApplication app, EventStreamService service, Uri endpoint)
    {
        _app = app;
        _service = service;
        Endpoint = endpoint;
    }

    /// <summary>What the host passes the worker as <c>--functions-uri</c>: <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Endpoint { get; }

    public static async Task<StandInHost> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(StandInHost).Assembly.GetName().Name,
            EnvironmentName = Environments.Production,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(grpc => grpc.MaxReceiveMessageSize = null);
        var service = new EventStreamService();
        builder.Services.AddSingleton(service);

        var app = builder.Build();
        app.MapGrpcService<EventStreamService>();
        try
        {
            await app.StartAsync();
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                ?? throw new InvalidOperationException("Kestrel started but reported no listening address.");
            return new StandInHost(app, service, new Uri($"http://127.0.0.1:{new Uri(address).Port}/"));
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for the worker to open its stream (its <c>StartStream</c>); fails early with its output if it exits first.</summary>
    public async Task<HostSession> AcceptAsync(WorkerProcess worker, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var exited = worker.WaitForExitAsync(cts.Token);
        var opened = _service.Opened.Task.WaitAsync(cts.Token);
        var first = await Task.WhenAny(opened, exited).ConfigureAwait(false);
        if (first == exited && !opened.IsCompletedSuccessfully)
        {
            int code = await exited;
            throw new InvalidOperationException($"The worker exited with code {code} before it connected.\n{worker.Output}");
        }

        try
        {
            return await opened;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The worker did not connect within {timeout}.\n{worker.Output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _service.Close();
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // A stream the worker still holds open; DisposeAsync below tears it down.
        }
        finally
        {
            await _app.DisposeAsync();
            _service.Dispose();
        }
    }

    /// <summary>The gRPC service: one worker stream, whose messages go to and come from a <see cref="HostSession"/>.</summary>
    private sealed class EventStreamService : FunctionRpc.FunctionRpcBase, IDisposable
    {
        private readonly CancellationTokenSource _closing = new();

        public TaskCompletionSource<HostSession> Opened { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Close() => _closing.Cancel();

        public void Dispose() => _closing.Dispose();

        public override async Task EventStream(IAsyncStreamReader<StreamingMessage> requestStream, IServerStreamWriter<StreamingMessage> responseStream, ServerCallContext context)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _closing.Token);
            if (!await requestStream.MoveNext(stop.Token) || requestStream.Current.StartStream is not { } start)
            {
                throw new Grpc.Core.RpcException(new Status(StatusCode.FailedPrecondition, "A worker's first message must be StartStream."));
            }

            var session = new HostSession(start.WorkerId);
            if (!Opened.TrySetResult(session))
            {
                throw new Grpc.Core.RpcException(new Status(StatusCode.AlreadyExists, "This stand-in host serves one worker."));
            }

            var writing = WriteAsync(session, responseStream, stop.Token);
            try
            {
                while (await requestStream.MoveNext(stop.Token))
                {
                    session.Received(requestStream.Current);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The worker went away or the host is stopping.
            }
            catch (IOException)
            {
                // The worker's connection dropped (it exited).
            }
            finally
            {
                session.Disconnected();
                await stop.CancelAsync();
                await writing;
            }
        }

        private static async Task WriteAsync(HostSession session, IServerStreamWriter<StreamingMessage> responseStream, CancellationToken stop)
        {
            try
            {
                await foreach (var message in session.Outgoing.ReadAllAsync(stop))
                {
                    await responseStream.WriteAsync(message, stop);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or IOException)
            {
                // The stream ended while writing (the worker left, or the call completed).
            }
        }
    }
}
