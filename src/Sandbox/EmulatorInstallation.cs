using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace BulkDispatch.Sandbox;

/// <summary>
/// Where the fauxqs emulator runs from, with its npm packages installed. By default that is the copy shipped
/// inside this assembly (start.mjs, package.json, package-lock.json; never node_modules), written on first use
/// to a per-user cache folder and installed there with <c>npm ci</c>, so <c>bulkdispatch demo</c> works from
/// any folder on a machine with Node.js. The tests point it at the repository's tools/sqs-emulator instead.
/// </summary>
public static partial class EmulatorInstallation
{
    /// <summary>Environment variable naming a folder that holds start.mjs to use instead of the shipped copy.</summary>
    internal const string DirectoryVariable = "BULKDISPATCH_SQS_EMULATOR_DIR";

    /// <summary>The start script every emulator folder has.</summary>
    internal const string StartScript = "start.mjs";

    private const string ResourcePrefix = "sqs-emulator/";
    private const string InstalledMarker = ".bulkdispatch-installed";
    private static readonly string[] ShippedFiles = [StartScript, "package.json", "package-lock.json"];
    private static readonly TimeSpan NpmCiTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The folder to run start.mjs in, with its packages installed: <paramref name="directory"/>, else the folder named by
    /// <see cref="DirectoryVariable"/>, else the shipped copy in the per-user cache (installed on first use).
    /// </summary>
    /// <param name="directory">An emulator folder (start.mjs, package.json, package-lock.json), or <see langword="null"/>.</param>
    /// <param name="progress">Told, in one line each, when an install starts and ends.</param>
    /// <param name="cancellationToken">Cancels the install.</param>
    /// <exception cref="SandboxSetupException">npm is missing, or <c>npm ci</c> failed.</exception>
    /// <exception cref="InvalidOperationException">The folder given has no start.mjs.</exception>
    public static async Task<string> PrepareAsync(string? directory, Action<string>? progress, CancellationToken cancellationToken)
    {
        if (directory is null && Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } fromEnvironment)
        {
            directory = fromEnvironment;
        }

        if (directory is not null)
        {
            var full = Path.GetFullPath(directory);
            if (!File.Exists(Path.Combine(full, StartScript)))
            {
                throw new InvalidOperationException($"There is no {StartScript} in {full} (the SQS emulator folder; {DirectoryVariable} may name it).");
            }

            await InstallOnceAsync(full, writeShippedFiles: false, progress, cancellationToken);
            return full;
        }

        var cached = Path.Combine(CacheRoot(), "sqs-emulator", ShippedVersion());
        await InstallOnceAsync(cached, writeShippedFiles: true, progress, cancellationToken);
        return cached;
    }

    /// <summary>
    /// The per-user cache folder for BulkDispatch: <c>$XDG_CACHE_HOME/bulkdispatch</c> or <c>~/.cache/bulkdispatch</c> on
    /// Linux, <c>~/Library/Caches/bulkdispatch</c> on macOS, <c>%LOCALAPPDATA%\bulkdispatch\cache</c> on Windows.
    /// </summary>
    internal static string CacheRoot()
    {
        if (OperatingSystem.IsWindows())
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "bulkdispatch", "cache");
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify);
        if (OperatingSystem.IsMacOS() && home.Length > 0)
        {
            return Path.Combine(home, "Library", "Caches", "bulkdispatch");
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathFullyQualified(xdg))
        {
            return Path.Combine(xdg, "bulkdispatch");
        }

        // No home folder (some containers): the temp folder is the only per-machine cache left.
        return home.Length > 0 ? Path.Combine(home, ".cache", "bulkdispatch") : Path.Combine(Path.GetTempPath(), "bulkdispatch-cache");
    }

    /// <summary>
    /// The cache folder's name: this build's version and a hash of the shipped files, so a tool update with a new
    /// lock file never reuses packages installed for the old one.
    /// </summary>
    internal static string ShippedVersion()
    {
        var assembly = typeof(EmulatorInstallation).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        int plus = version.IndexOf('+', StringComparison.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in ShippedFiles)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name));
            hash.AppendData(ReadShippedFile(name));
        }

        return (plus < 0 ? version : version[..plus]) + "-" + Convert.ToHexStringLower(hash.GetHashAndReset())[..12];
    }

    private static byte[] ReadShippedFile(string name)
    {
        using var stream = typeof(EmulatorInstallation).Assembly.GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new InvalidOperationException($"This build of BulkDispatch.Sandbox does not embed {ResourcePrefix}{name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Runs <c>npm ci</c> in <paramref name="directory"/> unless it is already installed; one process at a time per folder.</summary>
    private static async Task InstallOnceAsync(string directory, bool writeShippedFiles, Action<string>? progress, CancellationToken cancellationToken)
    {
        if (IsInstalled(directory, writeShippedFiles))
        {
            return;
        }

        // npm ci deletes node_modules first, so parallel processes must take turns. The lock lives outside the
        // folder's node_modules, which npm ci would delete under us, and is released by the OS if we crash.
        var lockPath = writeShippedFiles
            ? directory + ".lock"
            : Path.Combine(Path.GetTempPath(), "bulkdispatch-npm-ci-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(directory)))[..16] + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        await using var lockFile = await AcquireFileLockAsync(lockPath, cancellationToken);
        if (IsInstalled(directory, writeShippedFiles))
        {
            return;
        }

        var npm = NodeRuntime.FindNpm();
        if (writeShippedFiles)
        {
            Directory.CreateDirectory(directory);
            File.Delete(Path.Combine(directory, InstalledMarker));
            foreach (var name in ShippedFiles)
            {
                await File.WriteAllBytesAsync(Path.Combine(directory, name), ReadShippedFile(name), cancellationToken);
            }
        }

        progress?.Invoke($"Installing the SQS emulator (fauxqs) with npm ci into {directory} (first use only) ...");
        long started = Stopwatch.GetTimestamp();
        await RunNpmCiAsync(npm, directory, cancellationToken);
        if (!File.Exists(Path.Combine(directory, "node_modules", "fauxqs", "package.json")))
        {
            throw new SandboxSetupException(SandboxSetupProblem.InstallFailed, $"npm ci in {directory} finished but node_modules/fauxqs is missing; delete that folder and run again.");
        }

        if (writeShippedFiles)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, InstalledMarker), ShippedVersion(), cancellationToken);
        }

        progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"Installed the SQS emulator in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s."));
    }

    // The cache copy counts as installed only once npm ci finished there (the marker); a repository folder once fauxqs is in node_modules.
    private static bool IsInstalled(string directory, bool cacheCopy) =>
        File.Exists(Path.Combine(directory, "node_modules", "fauxqs", "package.json"))
        && (!cacheCopy || File.Exists(Path.Combine(directory, InstalledMarker)));

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
                    throw new SandboxSetupException(SandboxSetupProblem.InstallFailed, $"Another process has been installing the SQS emulator for {NpmCiTimeout.TotalMinutes:0} minutes (lock file {path}); stop it or delete the lock file and run again.");
                }
            }
        }
    }

    private static async Task RunNpmCiAsync(string npm, string directory, CancellationToken cancellationToken)
    {
        // --prefer-offline: tarballs already in npm's own cache are not downloaded again (the lock file pins their integrity).
        string[] arguments = ["ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"];
        var startInfo = OperatingSystem.IsWindows()
            ? ChildProcess.StartInfo("cmd.exe", directory, ["/c", npm, .. arguments]) // npm is a .cmd script there, which only cmd.exe runs
            : ChildProcess.StartInfo(npm, directory, arguments);

        using var process = Process.Start(startInfo) ?? throw new SandboxSetupException(SandboxSetupProblem.Prerequisite, $"Could not start '{npm}'.");
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
            ChildProcess.KillTree(process);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new SandboxSetupException(SandboxSetupProblem.InstallFailed, $"npm ci in {directory} did not finish within {NpmCiTimeout.TotalMinutes:0} minutes ({Summary(output)}). It needs the npm registry; run again when it is reachable.");
        }

        if (process.ExitCode != 0)
        {
            throw new SandboxSetupException(SandboxSetupProblem.InstallFailed, $"npm ci in {directory} failed with exit code {process.ExitCode} ({Summary(output)}). It needs the npm registry; run again when it is reachable.");
        }
    }

    /// <summary>npm's own error lines, without the pointer to its log file, on one line.</summary>
    private static string Summary(BoundedLog output)
    {
        var errors = output.ToString()
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => (l.StartsWith("npm error", StringComparison.Ordinal) || l.StartsWith("npm ERR!", StringComparison.Ordinal))
                && !l.Contains("complete log", StringComparison.OrdinalIgnoreCase)
                && !NpmErrorDetailLine().IsMatch(l))
            .Take(2)
            .ToList();
        return errors.Count > 0 ? string.Join("; ", errors) : output.LastLine() ?? "no output";
    }

    // "npm error code ECONNREFUSED", "npm error errno ...": the line after them says it in words.
    [GeneratedRegex(@"^npm (error|ERR!) (code|errno|syscall|path|dest) ")]
    private static partial Regex NpmErrorDetailLine();

    private static async Task PumpAsync(StreamReader reader, BoundedLog log)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            log.Add(line);
        }
    }
}
