using BulkDispatch.Tests.Shared;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace BulkDispatch.Soak;

/// <summary>How a flush run ended.</summary>
internal enum KillKind
{
    /// <summary>Not killed: it ended by itself.</summary>
    None,

    /// <summary>Killed at a random moment after it started.</summary>
    Timed,

    /// <summary>Killed right after the Event API accepted one of its POSTs, before it could delete the messages.</summary>
    BetweenPostAndDelete,
}

/// <summary>
/// One real <c>bulkdispatch flush --json</c> process (bulkdispatch.dll next to the soak), with its peak
/// working set sampled from /proc while it runs, and a real kill (SIGKILL of the whole tree) on demand.
/// </summary>
internal sealed class FlushChild : IDisposable
{
    private const int MaxOutputChars = 256 * 1024;
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(50);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();
    private long _peakWorkingSet;
    private KillKind _killed;

    private FlushChild(Process process)
    {
        _process = process;
    }

    /// <summary>Why it was killed, if it was.</summary>
    public KillKind Killed
    {
        get
        {
            lock (_gate)
            {
                return _killed;
            }
        }
    }

    /// <summary>The highest peak working set (VmHWM) sampled, in bytes.</summary>
    public long PeakWorkingSet => Interlocked.Read(ref _peakWorkingSet);

    /// <summary>The exit code; meaningful once <see cref="WaitAsync"/> returned.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The last lines it wrote (stdout and stderr), for a failure message.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <c>bulkdispatch flush --settings FILE --json</c> with only the settings given: none from the machine.</summary>
    public static FlushChild Start(string workingDirectory, string settingsFile, long gcHeapLimitBytes)
    {
        var start = CliChildProcess.StartInfo(workingDirectory, ["flush", "--settings", settingsFile, "--json"]);
        if (gcHeapLimitBytes > 0)
        {
            start.Environment["DOTNET_GCHeapHardLimit"] = gcHeapLimitBytes.ToString("X", CultureInfo.InvariantCulture); // hex, as the runtime reads it
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new FlushChild(process);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _ = Task.Run(child.SampleMemoryAsync);
        return child;
    }

    /// <summary>Kills the process tree now (SIGKILL: no cleanup in the child runs) and waits until it is gone.</summary>
    /// <returns>Whether this call killed it (false when it had exited or was killed already).</returns>
    public bool Kill(KillKind kind)
    {
        lock (_gate)
        {
            if (_killed != KillKind.None || _process.HasExited)
            {
                return false;
            }

            Sample(); // the last reading before it is gone
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(10));
            _killed = kind;
            return true;
        }
    }

    /// <summary>Waits for the process to end; kills it if <paramref name="cancellationToken"/> fires first.</summary>
    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Dispose();
            throw;
        }

        await _process.WaitForExitAsync(CancellationToken.None); // lets the output readers finish
    }

    /// <summary>Kills the process if it is still running.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
    }

    private async Task SampleMemoryAsync()
    {
        using var timer = new PeriodicTimer(SampleInterval);
        do
        {
            lock (_gate)
            {
                try
                {
                    if (_process.HasExited)
                    {
                        return;
                    }
                }
                catch (InvalidOperationException)
                {
                    return; // disposed
                }

                Sample();
            }
        }
        while (await timer.WaitForNextTickAsync());
    }

    /// <summary>Reads VmHWM (the kernel's peak resident set) of the child; holds <see cref="_gate"/>.</summary>
    private void Sample()
    {
        long peak = 0;
        try
        {
            if (OperatingSystem.IsLinux())
            {
                foreach (var line in File.ReadLines($"/proc/{_process.Id.ToString(CultureInfo.InvariantCulture)}/status"))
                {
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        peak = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                        break;
                    }
                }
            }
            else
            {
                _process.Refresh();
                peak = _process.PeakWorkingSet64;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or FormatException)
        {
            return; // it exited between the check and the read
        }

        if (peak > Interlocked.Read(ref _peakWorkingSet))
        {
            Interlocked.Exchange(ref _peakWorkingSet, peak);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            if (_output.Length > MaxOutputChars)
            {
                _output.Remove(0, _output.Length - MaxOutputChars);
            }
        }
    }
}
