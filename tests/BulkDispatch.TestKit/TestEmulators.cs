using Amazon.Runtime;
using BulkDispatch.Sandbox;

namespace BulkDispatch.TestKit;

/// <summary>
/// The SQS emulator as the tests, the soak and the benchmarks start it: from the repository's tools/sqs-emulator
/// (installed by scripts/test.sh's <c>npm ci</c>, or on first use), where the opt-in test aids live beside start.mjs.
/// </summary>
internal static class TestEmulators
{
    /// <summary>The repository's tools/sqs-emulator folder.</summary>
    public static string Directory => RepositoryFolders.SqsEmulator;

    /// <summary>Starts a plain emulator (no aids) on <paramref name="port"/> (0: a free one).</summary>
    public static Task<SqsEmulator> StartAsync(int port = 0, CancellationToken cancellationToken = default) =>
        SqsEmulator.StartAsync(new SqsEmulatorOptions { Port = port, Directory = Directory }, cancellationToken);

    /// <summary>
    /// Starts an emulator that serves only requests signed with <paramref name="accessKeyId"/> (fauxqs itself accepts any
    /// key; see tools/sqs-emulator/access-key-guard.mjs). Its clients sign with the key it currently requires;
    /// <see cref="RequireAccessKeyAsync"/> rotates it.
    /// </summary>
    public static Task<SqsEmulator> StartGuardedAsync(string accessKeyId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accessKeyId);
        return SqsEmulator.StartAsync(
            new SqsEmulatorOptions
            {
                Directory = Directory,
                Environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["FAUXQS_REQUIRED_ACCESS_KEY_ID"] = accessKeyId },
                Credentials = new CurrentKeyCredentials(accessKeyId),
            },
            cancellationToken);
    }

    /// <summary>Makes an emulator started by <see cref="StartGuardedAsync"/> require <paramref name="accessKeyId"/> instead (a key rotation).</summary>
    public static async Task RequireAccessKeyAsync(this SqsEmulator emulator, string accessKeyId, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(emulator);
        var credentials = emulator.Options.Credentials as CurrentKeyCredentials
            ?? throw new InvalidOperationException("Only an emulator started with StartGuardedAsync requires an access key.");
        using var http = new HttpClient();
        using var content = new StringContent(accessKeyId);
        using var response = await http.PostAsync(new Uri(emulator.ServiceUrl, "/_guard/access-key"), content, ct);
        response.EnsureSuccessStatusCode();
        credentials.AccessKeyId = accessKeyId;
    }

    /// <summary>
    /// Starts fauxqs keeping its state in <paramref name="stateFile"/>: queues and messages found there are restored, and a
    /// graceful stop writes them there again (tools/sqs-emulator/state.mjs). A snapshot on stop, not durability: a killed
    /// emulator loses what changed since; in-flight messages come back visible and receive counts start afresh.
    /// </summary>
    /// <param name="port">0 picks a free one; pass the same port again so queue URLs stay valid.</param>
    /// <param name="stateFile">The snapshot file (created on the first graceful stop).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static Task<SqsEmulator> StartWithStateAsync(int port, string stateFile, CancellationToken cancellationToken = default) =>
        SqsEmulator.StartAsync(
            new SqsEmulatorOptions
            {
                Port = port,
                Directory = Directory,
                Environment = new Dictionary<string, string>(StringComparer.Ordinal) { ["FAUXQS_STATE_FILE"] = Path.GetFullPath(stateFile) },
                StopGracePeriod = TimeSpan.FromSeconds(60), // writing a snapshot of a long queue takes longer than a plain stop
            },
            cancellationToken);

    /// <summary>
    /// Stops an emulator started by <see cref="StartWithStateAsync"/> gracefully (writing its state file) and starts a new one
    /// on the same port from that file, so queue URLs stay valid and queued messages survive.
    /// </summary>
    /// <returns>The new emulator; <paramref name="emulator"/> is disposed.</returns>
    /// <exception cref="InvalidOperationException">Not started with a state file, or the snapshot was not written.</exception>
    public static async Task<SqsEmulator> RestartAsync(this SqsEmulator emulator, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(emulator);
        var stateFile = emulator.Options.Environment.GetValueOrDefault("FAUXQS_STATE_FILE")
            ?? throw new InvalidOperationException("Only an emulator started with a state file can be restarted without losing its queues.");
        File.Delete(stateFile); // read at start already; a stop that writes no snapshot must not pass for one that did
        await emulator.DisposeAsync();
        if (!File.Exists(stateFile))
        {
            throw new InvalidOperationException($"fauxqs stopped without writing its state to {stateFile}.{emulator.DescribeErrorOutput()}");
        }

        return await StartWithStateAsync(emulator.Port, stateFile, cancellationToken);
    }

    /// <summary>Signs with the key the guarded emulator currently requires, so clients made before a rotation keep working.</summary>
    private sealed class CurrentKeyCredentials(string accessKeyId) : AWSCredentials
    {
        public string AccessKeyId { get; set; } = accessKeyId;

        public override ImmutableCredentials GetCredentials() => new(AccessKeyId, "test", null);
    }
}
