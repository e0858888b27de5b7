using System.Diagnostics;
using System.Runtime.InteropServices;

namespace BulkDispatch.Sandbox;

/// <summary>What the emulator launcher needs from the OS: finding a program on PATH and stopping a child politely, then firmly.</summary>
internal static class ChildProcess
{
    private const int SigTerm = 15;

    /// <summary>How long a child is waited for after the polite stop before its process tree is killed.</summary>
    internal static readonly TimeSpan DefaultStopGracePeriod = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How every child here is started: no shell, no window, all three streams redirected (UTF-8), so its output can be
    /// quoted in a failure and closing its standard input can ask it to stop.
    /// </summary>
    public static ProcessStartInfo StartInfo(string fileName, string? workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory ?? string.Empty,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardErrorEncoding = System.Text.Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>The full path of <paramref name="command"/> on PATH (with .exe/.cmd on Windows), or <see langword="null"/>.</summary>
    public static string? FindOnPath(string command)
    {
        var names = OperatingSystem.IsWindows() ? new[] { command + ".exe", command + ".cmd", command } : new[] { command };
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

    /// <summary>
    /// Closes the child's standard input (the stop start.mjs listens for), sends SIGTERM, and kills the process
    /// tree if it has not exited within <paramref name="gracePeriod"/>.
    /// </summary>
    public static async Task StopAsync(Process process, TimeSpan gracePeriod)
    {
        if (HasExited(process))
        {
            // Lets the output readers reach end of stream, so a failure message sees all of stderr.
            await WaitForExitQuietlyAsync(process);
            return;
        }

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

        using var grace = new CancellationTokenSource(gracePeriod);
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

    /// <summary>Kills the process and its children, ignoring one that is already gone.</summary>
    public static void KillTree(Process process)
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

    public static bool HasExited(Process process)
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

    private static async Task WaitForExitQuietlyAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(DefaultStopGracePeriod);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            // Nothing more can be done; the kernel reaps it once it dies.
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SysKill(int pid, int signal);
}
