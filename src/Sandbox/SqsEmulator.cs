using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Amazon.SQS;
using Amazon.SQS.Model;

namespace BulkDispatch.Sandbox;

/// <summary>
/// The real <c>fauxqs</c> SQS emulator (npm, pinned by tools/sqs-emulator/package-lock.json) running as a child
/// Node process on a loopback port, for <c>bulkdispatch demo</c>, the tests and the benchmarks.
/// </summary>
/// <remarks>
/// The child stops when its standard input closes, so it also dies with this process even when
/// this process is killed and never gets to call <see cref="DisposeAsync"/>.
/// </remarks>
public sealed class SqsEmulator : IAsyncDisposable
{
    /// <summary>The region fauxqs is started with and the client signs for.</summary>
    internal const string Region = "us-west-2";

    private const string PortLinePrefix = "FAUXQS_PORT=";
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly BoundedLog _stderr;
    private readonly SemaphoreSlim _stopLock = new(1, 1);
    private bool _stopped;

    private SqsEmulator(Process process, BoundedLog stderr, int port, SqsEmulatorOptions options)
    {
        _process = process;
        _stderr = stderr;
        Options = options;
        Port = port;
        ServiceUrl = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://localhost:{port}"));
        AppDomain.CurrentDomain.ProcessExit += OnHostProcessExit;
    }

    /// <summary>The loopback TCP port fauxqs listens on.</summary>
    public int Port { get; }

    /// <summary>
    /// The endpoint for <see cref="Amazon.Runtime.ClientConfig.ServiceURL"/>: <c>http://localhost:PORT</c>.
    /// </summary>
    /// <remarks>
    /// <c>localhost</c>, not <c>127.0.0.1</c>: Node binds "localhost" to whichever loopback family the
    /// resolver lists first (::1 on many IPv6 hosts), and .NET tries both families for the name.
    /// Queue URLs fauxqs hands out (<c>http://sqs.us-west-2.localhost:PORT/000000000000/NAME</c>) also
    /// resolve to loopback in .NET.
    /// </remarks>
    public Uri ServiceUrl { get; }

    /// <summary>The options it was started with (the actual port is <see cref="Port"/>).</summary>
    public SqsEmulatorOptions Options { get; }

    /// <summary>
    /// Starts fauxqs, installing its npm packages first when they are missing, and returns once it answers its
    /// health check.
    /// </summary>
    /// <param name="options">Port, folder and test aids; <see langword="null"/>: the demo's defaults.</param>
    /// <param name="cancellationToken">Cancels the start; the child process is stopped.</param>
    /// <exception cref="SandboxSetupException">Node.js or npm is missing or too old, the install failed, or the port is taken.</exception>
    /// <exception cref="InvalidOperationException">fauxqs did not start within 60 seconds, or exited.</exception>
    public static async Task<SqsEmulator> StartAsync(SqsEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SqsEmulatorOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Port, IPEndPoint.MaxPort);

        var node = await NodeRuntime.FindNodeAsync(cancellationToken);
        var directory = await EmulatorInstallation.PrepareAsync(options.Directory, options.Progress, cancellationToken);

        var startInfo = ChildProcess.StartInfo(node, directory, EmulatorInstallation.StartScript);
        foreach (var (name, value) in options.Environment)
        {
            startInfo.Environment[name] = value;
        }

        startInfo.Environment["FAUXQS_PORT"] = options.Port.ToString(CultureInfo.InvariantCulture);

        var stderr = new BoundedLog();
        var portSource = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && line.StartsWith(PortLinePrefix, StringComparison.Ordinal)
                && int.TryParse(line.AsSpan(PortLinePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var p))
            {
                portSource.TrySetResult(p);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                stderr.Add(line);
            }
        };
        process.Exited += (_, _) => portSource.TrySetException(new InvalidOperationException("fauxqs exited before it was listening."));

        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start '{node} {EmulatorInstallation.StartScript}' in {directory}: {ex.Message}", ex);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        SqsEmulator? emulator = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(StartupTimeout);
            int actualPort;
            try
            {
                actualPort = await portSource.Task.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"fauxqs did not print its port within {StartupTimeout.TotalSeconds:0} s.");
            }

            emulator = new SqsEmulator(process, stderr, actualPort, options);
            await emulator.WaitUntilHealthyAsync(timeout.Token, cancellationToken);
            return emulator;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await StopAfterFailedStartAsync(emulator, process, options.StopGracePeriod);
            if (stderr.Contains("EADDRINUSE"))
            {
                throw new SandboxSetupException(
                    SandboxSetupProblem.PortInUse,
                    string.Create(CultureInfo.InvariantCulture, $"Port {options.Port} is already in use, so the SQS emulator cannot listen on it."),
                    ex);
            }

            throw new InvalidOperationException(
                $"The SQS emulator (fauxqs, in {directory}) failed to start: {ex.Message}{stderr.Describe()}", ex);
        }
        catch
        {
            await StopAfterFailedStartAsync(emulator, process, options.StopGracePeriod);
            throw;
        }
    }

    /// <summary>
    /// Creates a client for the emulator: <see cref="SqsEmulatorOptions.Credentials"/>, <see cref="ServiceUrl"/>, region
    /// us-west-2, and a timeout that is short but longer than a 20 s long poll.
    /// </summary>
    public IAmazonSQS CreateClient()
    {
        var config = new AmazonSQSConfig
        {
            ServiceURL = ServiceUrl.ToString(),
            AuthenticationRegion = Region,
            Timeout = TimeSpan.FromSeconds(25),
        };
        return new AmazonSQSClient(Options.Credentials, config);
    }

    /// <summary>Creates a standard queue and returns its URL.</summary>
    /// <param name="name">The queue name.</param>
    /// <param name="visibilityTimeoutSeconds">The queue's default visibility timeout.</param>
    /// <param name="deadLetterQueueArn">When set, a redrive policy sends messages there.</param>
    /// <param name="maxReceiveCount">Receives before a message moves to the dead-letter queue.</param>
    /// <param name="ct">Cancels the call.</param>
    public async Task<string> CreateQueueAsync(
        string name,
        int visibilityTimeoutSeconds = 30,
        string? deadLetterQueueArn = null,
        int maxReceiveCount = 5,
        CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [QueueAttributeName.VisibilityTimeout] = visibilityTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
        };
        if (deadLetterQueueArn is not null)
        {
            attributes[QueueAttributeName.RedrivePolicy] = new JsonObject
            {
                ["deadLetterTargetArn"] = deadLetterQueueArn,
                ["maxReceiveCount"] = maxReceiveCount,
            }.ToJsonString();
        }

        using var client = CreateClient();
        var response = await client.CreateQueueAsync(new CreateQueueRequest { QueueName = name, Attributes = attributes }, ct);
        return response.QueueUrl;
    }

    /// <summary>
    /// Creates <c>{name}-dlq</c> and then <c>{name}</c> with a redrive policy pointing at it.
    /// </summary>
    /// <param name="name">The main queue's name.</param>
    /// <param name="visibilityTimeoutSeconds">The main queue's default visibility timeout.</param>
    /// <param name="maxReceiveCount">Receives before a message moves to the dead-letter queue.</param>
    /// <param name="ct">Cancels the calls.</param>
    public async Task<(string QueueUrl, string DeadLetterQueueUrl)> CreateQueueWithDeadLetterQueueAsync(
        string name,
        int visibilityTimeoutSeconds = 30,
        int maxReceiveCount = 5,
        CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var deadLetterQueueUrl = await CreateQueueAsync(name + "-dlq", visibilityTimeoutSeconds, ct: ct);

        using var client = CreateClient();
        var attributes = await client.GetQueueAttributesAsync(
            new GetQueueAttributesRequest { QueueUrl = deadLetterQueueUrl, AttributeNames = [QueueAttributeName.QueueArn] }, ct);
        var arn = attributes.QueueARN ?? throw new InvalidOperationException(
            $"The emulator did not return a QueueArn for {deadLetterQueueUrl}.");

        var queueUrl = await CreateQueueAsync(name, visibilityTimeoutSeconds, arn, maxReceiveCount, ct);
        return (queueUrl, deadLetterQueueUrl);
    }

    /// <summary>
    /// Stops fauxqs: closes its standard input, sends SIGTERM, and kills the process tree if it has
    /// not exited within <see cref="SqsEmulatorOptions.StopGracePeriod"/>. Safe to call more than once.
    /// </summary>
    public async Task StopAsync()
    {
        await _stopLock.WaitAsync();
        try
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            AppDomain.CurrentDomain.ProcessExit -= OnHostProcessExit;
            await ChildProcess.StopAsync(_process, Options.StopGracePeriod);
        }
        finally
        {
            _stopLock.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    /// <summary>The last lines fauxqs wrote to standard error, introduced for a failure message.</summary>
    internal string DescribeErrorOutput() => _stderr.Describe();

    private async Task WaitUntilHealthyAsync(CancellationToken timeoutToken, CancellationToken callerToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var health = new Uri(ServiceUrl, "/health");
        var timedOut = $"fauxqs did not answer GET {health} with 200 within {StartupTimeout.TotalSeconds:0} s.";
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"fauxqs exited with code {_process.ExitCode} before its health check answered.");
            }

            try
            {
                using var response = await http.GetAsync(health, timeoutToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not accepting connections yet.
            }
            catch (TaskCanceledException) when (!timeoutToken.IsCancellationRequested)
            {
                // A single attempt timed out; try again.
            }
            catch (OperationCanceledException) when (!callerToken.IsCancellationRequested)
            {
                throw new TimeoutException(timedOut);
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), timeoutToken);
            }
            catch (OperationCanceledException) when (!callerToken.IsCancellationRequested)
            {
                throw new TimeoutException(timedOut);
            }
        }
    }

    private static async Task StopAfterFailedStartAsync(SqsEmulator? emulator, Process process, TimeSpan gracePeriod)
    {
        if (emulator is not null)
        {
            await emulator.DisposeAsync();
        }
        else
        {
            await ChildProcess.StopAsync(process, gracePeriod);
            process.Dispose();
        }
    }

    private void OnHostProcessExit(object? sender, EventArgs e)
    {
        // Last resort when the host exits without disposing us; stdin closing covers hard crashes.
        ChildProcess.KillTree(_process);
    }
}
