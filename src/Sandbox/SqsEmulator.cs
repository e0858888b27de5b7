using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;

namespace BulkDispatch.Sandbox;

/// <summary>
/// The real <c>fauxqs</c> SQS emulator (npm, pinned in <c>tools/sqs-emulator</c>) running as a child
/// Node process on a loopback port, for the <c>bulkdispatch demo</c> command and the integration tests.
/// </summary>
/// <remarks>
/// The child stops when its standard input closes, so it also dies with this process even when
/// this process is killed and never gets to call <see cref="DisposeAsync"/>.
/// </remarks>
internal sealed class SqsEmulator : IAsyncDisposable
{
    /// <summary>Environment variable that points directly at the <c>tools/sqs-emulator</c> folder.</summary>
    internal const string DirectoryVariable = "BULKDISPATCH_SQS_EMULATOR_DIR";

    /// <summary>The region fauxqs is started with and the client signs for.</summary>
    internal const string Region = "us-west-2";

    private const string PortLinePrefix = "FAUXQS_PORT=";
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan NpmCiTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan StopGracePeriod = TimeSpan.FromSeconds(5);

    // Writing a snapshot of a long queue takes longer than a plain stop.
    private static readonly TimeSpan SnapshotStopGracePeriod = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly BoundedLog _stderr;
    private readonly string? _stateFile;
    private readonly SemaphoreSlim _stopLock = new(1, 1);
    private bool _stopped;

    private SqsEmulator(Process process, BoundedLog stderr, int port, string? stateFile)
    {
        _process = process;
        _stderr = stderr;
        _stateFile = stateFile;
        Port = port;
        ServiceUrl = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://localhost:{port}"));
        AppDomain.CurrentDomain.ProcessExit += OnHostProcessExit;
    }

    /// <summary>The loopback TCP port fauxqs listens on.</summary>
    public int Port { get; }

    /// <summary>
    /// The endpoint for <see cref="ClientConfig.ServiceURL"/>: <c>http://localhost:PORT</c>.
    /// </summary>
    /// <remarks>
    /// <c>localhost</c>, not <c>127.0.0.1</c>: Node binds "localhost" to whichever loopback family the
    /// resolver lists first (::1 on many IPv6 hosts), and .NET tries both families for the name.
    /// Queue URLs fauxqs hands out (<c>http://sqs.us-west-2.localhost:PORT/000000000000/NAME</c>) also
    /// resolve to loopback in .NET.
    /// </remarks>
    public Uri ServiceUrl { get; }

    /// <summary>
    /// Starts fauxqs, installing its npm packages first (<c>npm ci</c>) when they are missing, and
    /// returns once it answers its health check.
    /// </summary>
    /// <param name="port">The port to listen on; 0 picks a free one.</param>
    /// <param name="requiredAccessKeyId">
    /// When set, only requests signed with this access key id are served; others get InvalidClientTokenId
    /// (fauxqs itself accepts any key; see tools/sqs-emulator/access-key-guard.mjs).
    /// </param>
    /// <param name="cancellationToken">Cancels the start; the child process is stopped.</param>
    /// <exception cref="InvalidOperationException">
    /// Node is not installed, the emulator folder cannot be found, <c>npm ci</c> fails, or fauxqs
    /// does not start within 60 seconds.
    /// </exception>
    public static Task<SqsEmulator> StartAsync(int port = 0, string? requiredAccessKeyId = null, CancellationToken cancellationToken = default) =>
        StartCoreAsync(port, stateFile: null, requiredAccessKeyId, cancellationToken);

    /// <summary>
    /// Starts fauxqs as <see cref="StartAsync(int, string?, CancellationToken)"/> does (no access-key guard), keeping its state in
    /// <paramref name="stateFile"/>: queues and messages found there are restored, and a graceful stop
    /// (<see cref="StopAsync"/>) writes them there again.
    /// </summary>
    /// <remarks>
    /// fauxqs itself has no persistence; this is a snapshot taken on a graceful stop (see
    /// tools/sqs-emulator/state.mjs), not durability: a killed emulator loses what changed since.
    /// In-flight messages come back visible and receive counts start afresh.
    /// </remarks>
    /// <param name="port">The port to listen on; 0 picks a free one. Pass the same port again so queue URLs stay valid.</param>
    /// <param name="stateFile">The snapshot file (created on the first graceful stop).</param>
    /// <param name="cancellationToken">Cancels the start; the child process is stopped.</param>
    public static Task<SqsEmulator> StartWithStateAsync(int port, string stateFile, CancellationToken cancellationToken = default) =>
        StartCoreAsync(port, stateFile, requiredAccessKeyId: null, cancellationToken);

    // One name per way to start: a positional string cannot be taken for the other option.
    private static async Task<SqsEmulator> StartCoreAsync(int port, string? stateFile, string? requiredAccessKeyId, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);

        var node = FindOnPath("node") ?? throw new InvalidOperationException(
            "The SQS emulator needs Node.js 20 or later, but 'node' was not found on PATH. "
            + "Install Node.js (with npm) and make sure 'node' is on PATH.");
        var directory = LocateEmulatorDirectory();
        await EnsurePackagesInstalledAsync(directory, cancellationToken);

        var startInfo = new ProcessStartInfo(node)
        {
            WorkingDirectory = directory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        startInfo.ArgumentList.Add("start.mjs");
        startInfo.Environment["FAUXQS_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        if (requiredAccessKeyId is not null)
        {
            startInfo.Environment["FAUXQS_REQUIRED_ACCESS_KEY_ID"] = requiredAccessKeyId;
        }

        if (stateFile is not null)
        {
            startInfo.Environment["FAUXQS_STATE_FILE"] = Path.GetFullPath(stateFile);
        }

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
            throw new InvalidOperationException($"Could not start '{node} start.mjs' in {directory}: {ex.Message}", ex);
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

            emulator = new SqsEmulator(process, stderr, actualPort, stateFile) { AccessKeyId = requiredAccessKeyId ?? "test" };
            await emulator.WaitUntilHealthyAsync(timeout.Token, cancellationToken);
            return emulator;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await StopAfterFailedStartAsync(emulator, process);
            throw new InvalidOperationException(
                $"The SQS emulator (fauxqs, in {directory}) failed to start: {ex.Message}{stderr.Describe()}", ex);
        }
        catch
        {
            await StopAfterFailedStartAsync(emulator, process);
            throw;
        }
    }

    /// <summary>
    /// Creates a client for the emulator: fixed test credentials, <see cref="ServiceUrl"/>, region
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
        return new AmazonSQSClient(new CurrentKeyCredentials(this), config);
    }

    /// <summary>The access key id <see cref="CreateClient"/> signs with: the one the emulator requires, when it requires one.</summary>
    public string AccessKeyId { get; private set; } = "test";

    /// <summary>Makes an emulator started with a required access key id require <paramref name="accessKeyId"/> instead (a key rotation).</summary>
    public async Task RequireAccessKeyAsync(string accessKeyId, CancellationToken ct = default)
    {
        using var http = new HttpClient();
        using var content = new StringContent(accessKeyId);
        using var response = await http.PostAsync(new Uri(ServiceUrl, "/_guard/access-key"), content, ct);
        response.EnsureSuccessStatusCode();
        AccessKeyId = accessKeyId;
    }

    /// <summary>Signs with the emulator's current <see cref="AccessKeyId"/>, so clients made before a rotation keep working.</summary>
    private sealed class CurrentKeyCredentials(SqsEmulator emulator) : AWSCredentials
    {
        public override ImmutableCredentials GetCredentials() => new(emulator.AccessKeyId, "test", null);
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
    /// not exited after 5 seconds. Safe to call more than once.
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
            await StopProcessAsync(_process, _stateFile is null ? StopGracePeriod : SnapshotStopGracePeriod);
        }
        finally
        {
            _stopLock.Release();
        }
    }

    /// <summary>
    /// Stops this emulator gracefully (writing its state file) and starts a new one on the same port
    /// from that file, so queue URLs stay valid and queued messages survive. Only for an emulator
    /// started with a state file.
    /// </summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The new emulator; this one is disposed.</returns>
    /// <exception cref="InvalidOperationException">No state file, or the snapshot was not written.</exception>
    public async Task<SqsEmulator> RestartAsync(CancellationToken cancellationToken = default)
    {
        var stateFile = _stateFile ?? throw new InvalidOperationException("Only an emulator started with a state file can be restarted without losing its queues.");
        File.Delete(stateFile); // read at start already; a stop that writes no snapshot must not pass for one that did
        await DisposeAsync();
        if (!File.Exists(stateFile))
        {
            throw new InvalidOperationException($"fauxqs stopped without writing its state to {stateFile}.{_stderr.Describe()}");
        }

        return await StartWithStateAsync(Port, stateFile, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    /// <summary>The last lines fauxqs wrote to standard error, for diagnostics.</summary>
    internal string RecentErrorOutput => _stderr.ToString();

    private async Task WaitUntilHealthyAsync(CancellationToken timeoutToken, CancellationToken callerToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var health = new Uri(ServiceUrl, "/health");
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
                throw new TimeoutException($"fauxqs did not answer GET {health} with 200 within {StartupTimeout.TotalSeconds:0} s.");
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), timeoutToken);
            }
            catch (OperationCanceledException) when (!callerToken.IsCancellationRequested)
            {
                throw new TimeoutException($"fauxqs did not answer GET {health} with 200 within {StartupTimeout.TotalSeconds:0} s.");
            }
        }
    }

    private static async Task StopAfterFailedStartAsync(SqsEmulator? emulator, Process process)
    {
        if (emulator is not null)
        {
            await emulator.DisposeAsync();
        }
        else
        {
            await StopProcessAsync(process);
            process.Dispose();
        }
    }

    private static async Task StopProcessAsync(Process process, TimeSpan? gracePeriod = null)
    {
        if (HasExited(process))
        {
            // Lets the output readers reach end of stream, so a failure message sees all of stderr.
            await WaitForExitQuietlyAsync(process);
            return;
        }

        // Closing stdin is the polite stop start.mjs listens for; SIGTERM is the second ask.
        try
        {
            process.StandardInput.Close();
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            // The pipe is already gone; the signal below still applies.
        }

        if (!OperatingSystem.IsWindows() && !HasExited(process))
        {
            _ = SysKill(process.Id, SigTerm);
        }

        using var grace = new CancellationTokenSource(gracePeriod ?? StopGracePeriod);
        try
        {
            await process.WaitForExitAsync(grace.Token);
            return;
        }
        catch (OperationCanceledException)
        {
            // Did not stop in time; kill it below.
        }

        KillTree(process);
        await WaitForExitQuietlyAsync(process);
    }

    private static async Task WaitForExitQuietlyAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(StopGracePeriod);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            // Nothing more can be done; the kernel reaps it once it dies.
        }
    }

    private void OnHostProcessExit(object? sender, EventArgs e)
    {
        // Last resort when the host exits without disposing us; stdin closing covers hard crashes.
        KillTree(_process);
    }

    private static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already exited or not ours to kill any more.
        }
    }

    private static bool HasExited(Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SysKill(int pid, int signal);

    private static string LocateEmulatorDirectory()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            var full = Path.GetFullPath(fromEnvironment);
            if (File.Exists(Path.Combine(full, "start.mjs")))
            {
                return full;
            }

            throw new InvalidOperationException(
                $"{DirectoryVariable} is set to '{fromEnvironment}', but there is no start.mjs in {full}.");
        }

        var searched = new List<string>();
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tools", "sqs-emulator");
                if (File.Exists(Path.Combine(candidate, "start.mjs")))
                {
                    return candidate;
                }
            }

            searched.Add(start);
        }

        throw new InvalidOperationException(
            "Could not find tools/sqs-emulator/start.mjs in any parent folder of "
            + string.Join(" or ", searched.Distinct(StringComparer.Ordinal))
            + $". Run from inside the BulkDispatch repository or set {DirectoryVariable} to that folder.");
    }

    private static async Task EnsurePackagesInstalledAsync(string directory, CancellationToken cancellationToken)
    {
        if (PackagesInstalled(directory))
        {
            return;
        }

        // npm ci deletes node_modules first, so parallel test processes must take turns. The lock
        // lives in the temp folder, not in node_modules, which npm ci would delete under us.
        var lockPath = Path.Combine(
            Path.GetTempPath(),
            "bulkdispatch-npm-ci-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(
                Encoding.UTF8.GetBytes(directory)))[..16] + ".lock");
        await using var lockFile = await AcquireFileLockAsync(lockPath, cancellationToken);
        if (PackagesInstalled(directory))
        {
            return;
        }

        await RunNpmCiAsync(directory, cancellationToken);
        if (!PackagesInstalled(directory))
        {
            throw new InvalidOperationException($"npm ci in {directory} finished but node_modules/fauxqs is still missing.");
        }
    }

    private static bool PackagesInstalled(string directory) =>
        File.Exists(Path.Combine(directory, "node_modules", "fauxqs", "package.json"));

    private static async Task<FileStream> AcquireFileLockAsync(string path, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(NpmCiTimeout);
        while (true)
        {
            try
            {
                // FileShare.None is an OS-level exclusive lock, released even if the holder crashes.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), timeout.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new InvalidOperationException($"Timed out waiting for another process's npm ci (lock file {path}).");
                }
            }
        }
    }

    private static async Task RunNpmCiAsync(string directory, CancellationToken cancellationToken)
    {
        var npm = FindOnPath("npm") ?? throw new InvalidOperationException(
            $"The SQS emulator's packages are not installed in {directory} and 'npm' was not found on PATH. "
            + "Install Node.js with npm, or run 'npm ci' in that folder.");

        var startInfo = new ProcessStartInfo
        {
            WorkingDirectory = directory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        if (OperatingSystem.IsWindows())
        {
            // npm is a .cmd script on Windows, which only cmd.exe can run.
            startInfo.FileName = "cmd.exe";
            startInfo.ArgumentList.Add("/c");
            startInfo.ArgumentList.Add(npm);
        }
        else
        {
            startInfo.FileName = npm;
        }

        foreach (var argument in new[] { "ci", "--no-audit", "--no-fund" })
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start npm in {directory}.");
        process.StandardInput.Close();
        var output = new BoundedLog();
        var stdout = PumpAsync(process.StandardOutput, output);
        var stderr = PumpAsync(process.StandardError, output);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(NpmCiTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(stdout, stderr);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new InvalidOperationException(
                $"npm ci in {directory} did not finish within {NpmCiTimeout.TotalMinutes:0} minutes.{output.Describe()}");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"npm ci --no-audit --no-fund in {directory} failed with exit code {process.ExitCode}.{output.Describe()}");
        }
    }

    private static async Task PumpAsync(StreamReader reader, BoundedLog log)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            log.Add(line);
        }
    }

    private static string? FindOnPath(string command)
    {
        var names = OperatingSystem.IsWindows()
            ? new[] { command + ".exe", command + ".cmd", command }
            : new[] { command };
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            foreach (var name in names)
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>Keeps the last lines of a child's output, so a failure message can quote them.</summary>
    private sealed class BoundedLog
    {
        private const int MaxChars = 16 * 1024;
        private readonly Queue<string> _lines = new();
        private readonly Lock _gate = new();
        private int _chars;

        public void Add(string line)
        {
            lock (_gate)
            {
                _lines.Enqueue(line);
                _chars += line.Length + 1;
                while (_chars > MaxChars && _lines.Count > 1)
                {
                    _chars -= _lines.Dequeue().Length + 1;
                }
            }
        }

        public string Describe()
        {
            var text = ToString();
            return text.Length == 0 ? " (no output)" : Environment.NewLine + "Output:" + Environment.NewLine + text;
        }

        public override string ToString()
        {
            lock (_gate)
            {
                return string.Join(Environment.NewLine, _lines);
            }
        }
    }
}
