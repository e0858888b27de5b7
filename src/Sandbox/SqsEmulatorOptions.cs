using Amazon.Runtime;

namespace BulkDispatch.Sandbox;

/// <summary>How to start a <see cref="SqsEmulator"/>; the defaults are the demo's.</summary>
public sealed record SqsEmulatorOptions
{
    /// <summary>The loopback port to listen on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>
    /// The emulator folder (start.mjs, package.json, package-lock.json); <see langword="null"/>: the copy shipped with this
    /// assembly, installed in the per-user cache on first use (see <see cref="EmulatorInstallation"/>).
    /// </summary>
    public string? Directory { get; init; }

    /// <summary>Extra environment variables for start.mjs (the tests' opt-in aids read theirs from here).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The credentials <see cref="SqsEmulator.CreateClient"/> signs with; fauxqs itself accepts any.</summary>
    public AWSCredentials Credentials { get; init; } = new BasicAWSCredentials("test", "test");

    /// <summary>How long a stop waits for the emulator to exit before killing it.</summary>
    public TimeSpan StopGracePeriod { get; init; } = ChildProcess.DefaultStopGracePeriod;

    /// <summary>Told, one line at a time, about a first-use install (it can take a while).</summary>
    public Action<string>? Progress { get; init; }
}
