using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace BulkDispatch.EndToEnd;

/// <summary>
/// What one <c>bulkdispatch flush --json</c> process did, from its report and from /proc. <c>CpuSeconds</c> is
/// sampled every 50 ms while it runs (misses the last moments); <c>ReapedCpuSeconds</c> is exact (to 10 ms) but
/// read from this process's counters of its exited children, so it is right only when no other child exited
/// meanwhile (sequential runs, as in the start-up scenario).
/// </summary>
internal sealed record FlushProcessResult(
    int ExitCode,
    double Seconds,
    long PeakWorkingSetBytes,
    double CpuSeconds,
    double ReapedCpuSeconds,
    long MessagesReceived,
    long EventsDelivered,
    long RequestsSent,
    long BytesSent,
    IReadOnlyDictionary<string, (long Requests, long Units)> SqsRequests)
{
    /// <summary>The report's stopReason, messagesDeleted, transientFailures and lastFailure, and the end of stderr: why a run left messages.</summary>
    public string Outcome { get; init; } = "";
}

/// <summary>
/// Starts the real flush (<c>dotnet bulkdispatch.dll flush --json</c>) as separate processes and
/// keeps track of them, so every one is killed when the benchmark stops, fails or is interrupted.
/// </summary>
internal sealed class FlushProcesses : IDisposable
{
    private static readonly string[] OutcomeFields = ["stopReason", "complete", "messagesDeleted", "transientFailures", "lastFailure"];
    private readonly string _cliDll;
    private readonly string? _traceDirectory;
    private readonly ConcurrentDictionary<int, Process> _running = new();
    private int _started;

    public FlushProcesses(string cliDll, string? traceDirectory)
    {
        _cliDll = cliDll;
        _traceDirectory = traceDirectory;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    public List<string> Traces { get; } = [];

    /// <summary>Runs one flush to its end; its peak working set is its VmHWM, read from /proc while it runs.</summary>
    public async Task<FlushProcessResult> RunAsync(IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(_cliDll);
        start.ArgumentList.Add("flush");
        start.ArgumentList.Add("--json");
        foreach (var (name, value) in settings)
        {
            start.Environment[name] = value;
        }

        double reapedBefore = ReadReapedChildrenCpuSeconds();
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the flush process.");
        _running[process.Id] = process;
        int n = Interlocked.Increment(ref _started);
        Process? tracer = null;
        try
        {
            if (_traceDirectory is not null)
            {
                tracer = StartTracer(process.Id, Path.Combine(_traceDirectory, string.Create(CultureInfo.InvariantCulture, $"flush-{n}.nettrace")));
            }

            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            long peak = 0;
            double cpu = 0;
            while (!process.HasExited)
            {
                peak = Math.Max(peak, ReadHighWaterMark(process.Id));
                cpu = Math.Max(cpu, ReadCpuSeconds(process.Id));
                try
                {
                    await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromMilliseconds(50), cancellationToken);
                }
                catch (TimeoutException)
                {
                    // Look at VmHWM again.
                }
            }

            await process.WaitForExitAsync(cancellationToken);
            string output = await stdout;
            string errors = await stderr;
            if (tracer is not null)
            {
                await tracer.WaitForExitAsync(cancellationToken);
            }

            double seconds = clock.Elapsed.TotalSeconds;
            return Parse(process.ExitCode, seconds, peak, cpu, ReadReapedChildrenCpuSeconds() - reapedBefore, output, errors);
        }
        finally
        {
            _running.TryRemove(process.Id, out _);
            Kill(process);
            if (tracer is not null)
            {
                Kill(tracer);
                tracer.Dispose();
            }
        }
    }

    public void KillAll()
    {
        foreach (var process in _running.Values)
        {
            Kill(process);
        }
    }

    public void Dispose() => KillAll();

    private Process StartTracer(int pid, string output)
    {
        // dotnet-trace from the tool manifest (.config/dotnet-tools.json; `dotnet tool restore`).
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "tool", "run", "dotnet-trace", "--", "collect", "-p", pid.ToString(CultureInfo.InvariantCulture), "--profile", "dotnet-sampled-thread-time,gc-verbose", "-o", output })
        {
            start.ArgumentList.Add(a);
        }

        var tracer = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet-trace.");
        _running[tracer.Id] = tracer;
        _ = tracer.StandardOutput.ReadToEndAsync();
        _ = tracer.StandardError.ReadToEndAsync();
        lock (Traces)
        {
            Traces.Add(output);
        }

        return tracer;
    }

    private static FlushProcessResult Parse(int exitCode, double seconds, long peak, double cpu, double reapedCpu, string output, string errors)
    {
        int json = output.IndexOf('{', StringComparison.Ordinal);
        if (json < 0)
        {
            throw new InvalidOperationException($"The flush process exited with {exitCode} and printed no report. stderr: {errors}");
        }

        using var doc = JsonDocument.Parse(output[json..]);
        var r = doc.RootElement;
        var sqs = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        if (r.TryGetProperty("sqsRequests", out var counts))
        {
            foreach (var p in counts.EnumerateObject())
            {
                sqs[p.Name] = (p.Value.GetProperty("requests").GetInt64(), p.Value.GetProperty("billedUnits").GetInt64());
            }
        }

        return new FlushProcessResult(
            exitCode,
            seconds,
            peak,
            cpu,
            reapedCpu,
            r.GetProperty("messagesReceived").GetInt64(),
            r.GetProperty("eventsDelivered").GetInt64(),
            r.GetProperty("requestsSent").GetInt64(),
            r.GetProperty("bytesSent").GetInt64(),
            sqs)
        {
            Outcome = string.Join(", ", OutcomeFields
                .Select(name => r.TryGetProperty(name, out var v) ? $"{name} {v.GetRawText()}" : null)
                .OfType<string>()
                .Append(errors.Length == 0 ? "" : "stderr: " + errors[Math.Max(0, errors.Length - 300)..].ReplaceLineEndings(" | "))),
        };
    }

    /// <summary>
    /// User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15, in clock ticks of
    /// 1/100 s); read every 50 ms, so the last 50 ms of shutdown may be missed. Less disturbed by other
    /// processes on a shared machine than wall time.
    /// </summary>
    private static double ReadCpuSeconds(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    /// <summary>
    /// User + system CPU seconds of this process's children that have exited and been waited for (cutime and
    /// cstime, fields 16 and 17 of /proc/self/stat); the Process class waits for each child as it exits.
    /// </summary>
    private static double ReadReapedChildrenCpuSeconds()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>VmHWM (peak resident set) of a process in bytes; 0 once it is gone.</summary>
    private static long ReadHighWaterMark(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
            // Exited between the check and the read.
        }
        catch (UnauthorizedAccessException)
        {
        }

        return 0;
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }
}
