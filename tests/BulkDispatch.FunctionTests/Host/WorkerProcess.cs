using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace BulkDispatch.FunctionTests.Host;

/// <summary>
/// The real worker process of src/FlushFunction, started from its build output as the Functions host starts it: the
/// executable and assembly that <c>worker.config.json</c> names, the host's command-line switches, the app directory as
/// working directory, and the host's environment (its own variables plus the app settings). Killed on dispose.
/// </summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private const int MaxOutputLines = 400;
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly Queue<string> _output = new();

    private WorkerProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The function app's build output, as deployed: where the host finds worker.config.json.</summary>
    public static string AppDirectory { get; } = FindAppDirectory();

    /// <summary>The worker's last lines of standard output and error, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Starts the worker, connecting to <paramref name="hostEndpoint"/>, with <paramref name="appSettings"/> as environment variables.</summary>
    public static WorkerProcess Start(Uri hostEndpoint, IReadOnlyDictionary<string, string> appSettings)
    {
        var (executable, workerPath) = ReadWorkerConfig();
        string workerId = Guid.NewGuid().ToString();
        string requestId = Guid.NewGuid().ToString();
        string maxMessageLength = int.MaxValue.ToString(CultureInfo.InvariantCulture);
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = AppDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            CreateNoWindow = true,
        };
        start.ArgumentList.Add(Path.Combine(AppDirectory, workerPath));
        // The host passes both the old switches and the "functions-" ones (RpcWorkerContext.GetFormattedArguments).
        foreach (var (name, value) in new[]
        {
            ("--host", hostEndpoint.Host), ("--port", hostEndpoint.Port.ToString(CultureInfo.InvariantCulture)),
            ("--workerId", workerId), ("--requestId", requestId), ("--grpcMaxMessageLength", maxMessageLength),
            ("--functions-uri", hostEndpoint.AbsoluteUri), ("--functions-worker-id", workerId),
            ("--functions-request-id", requestId), ("--functions-grpc-max-message-length", maxMessageLength),
        })
        {
            start.ArgumentList.Add(name);
            start.ArgumentList.Add(value);
        }

        // Nothing of this machine's own settings leaks in: only what a host would give this app.
        foreach (var key in start.Environment.Keys.Where(k =>
            k.StartsWith("BulkDispatch", StringComparison.OrdinalIgnoreCase) || k.StartsWith("AWS_", StringComparison.OrdinalIgnoreCase)
            || k.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("AzureFunctionsJobHost__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        start.Environment["FUNCTIONS_WORKER_DIRECTORY"] = AppDirectory;
        start.Environment["FUNCTIONS_APPLICATION_DIRECTORY"] = AppDirectory;
        start.Environment["AzureWebJobsScriptRoot"] = AppDirectory;
        start.Environment["AzureWebJobsStorage"] = "UseDevelopmentStorage=true";
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        foreach (var (key, value) in appSettings)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start };
        var worker = new WorkerProcess(process);
        process.OutputDataReceived += (_, e) => worker.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => worker.Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>The exit code once the process has exited.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var wait = new CancellationTokenSource(KillWait);
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue(line);
            if (_output.Count > MaxOutputLines)
            {
                _output.Dequeue();
            }
        }
    }

    /// <summary>worker.config.json's executable ("dotnet": the one running these tests) and worker assembly.</summary>
    private static (string Executable, string WorkerPath) ReadWorkerConfig()
    {
        string path = Path.Combine(AppDirectory, "worker.config.json");
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var description = config.RootElement.GetProperty("description");
        string executable = description.GetProperty("defaultExecutablePath").GetString()!;
        string workerPath = description.GetProperty("defaultWorkerPath").GetString()!;
        return (executable == "dotnet" ? DotnetHost() : executable, workerPath);
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";

    private static string FindAppDirectory()
    {
        string directory = typeof(WorkerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "FlushFunctionDirectory").Value!;
        return File.Exists(Path.Combine(directory, "worker.config.json"))
            ? directory
            : throw new InvalidOperationException($"{directory} has no worker.config.json: build src/FlushFunction (this project references it) in the same configuration.");
    }
}
