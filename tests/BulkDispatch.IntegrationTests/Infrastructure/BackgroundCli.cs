using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>
/// A long-running <c>bulkdispatch</c> process (<c>serve</c>, <c>demo --keep-running</c>) whose output is collected
/// line by line; stopped with SIGTERM by the test, killed on dispose if still running.
/// </summary>
internal class BackgroundCli : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly ITestOutputHelper _testOutput;
    private readonly string _name;
    private Process? _process;

    protected BackgroundCli(string name, ITestOutputHelper testOutput)
    {
        _name = name;
        _testOutput = testOutput;
    }

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

    private Process Process => _process ?? throw new InvalidOperationException("not started");

    /// <summary>The process id, e.g. to find its children.</summary>
    public int ProcessId => Process.Id;

    /// <summary>Starts <paramref name="start"/> (from <see cref="CliProcess.StartInfo"/>) and collects its output.</summary>
    public static BackgroundCli Start(string name, ProcessStartInfo start, ITestOutputHelper testOutput)
    {
        var cli = new BackgroundCli(name, testOutput);
        cli.Start(start);
        return cli;
    }

    protected void Start(ProcessStartInfo start)
    {
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append("out: ", e.Data);
        process.ErrorDataReceived += (_, e) => Append("err: ", e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    public async Task WaitForLineAsync(System.Text.RegularExpressions.Regex pattern, TimeSpan timeout) =>
        await WaitForAsync(() => pattern.IsMatch(Output), timeout, $"a line matching {pattern}");

    public async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.False(Process.HasExited, Describe($"{_name} exited (code {(Process.HasExited ? Process.ExitCode : 0)}) while waiting for {what}"));
            Assert.True(DateTime.UtcNow < deadline, Describe($"no {what} within {timeout.TotalSeconds:0} s"));
            await Task.Delay(100);
        }
    }

    /// <summary>Sends SIGTERM and waits for the process to exit; returns its exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", Process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("could not run kill"))
        {
            await kill.WaitForExitAsync();
            Assert.True(kill.ExitCode == 0, $"kill -TERM {Process.Id} failed with exit code {kill.ExitCode}");
        }

        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await Process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail(Describe($"{_name} did not exit within {(timeout ?? TimeSpan.FromSeconds(30)).TotalSeconds:0} s of SIGTERM"));
        }

        Process.WaitForExit(); // the last output lines
        return Process.ExitCode;
    }

    public string Describe(string what) => $"{what}{Environment.NewLine}--- {_name} output ---{Environment.NewLine}{Output}";

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }
            catch (InvalidOperationException)
            {
            }

            _process.Dispose();
        }

        try
        {
            _testOutput.WriteLine(Output);
        }
        catch (InvalidOperationException)
        {
        }

        GC.SuppressFinalize(this);
    }

    private void Append(string prefix, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Append(prefix).AppendLine(line);
        }
    }
}
