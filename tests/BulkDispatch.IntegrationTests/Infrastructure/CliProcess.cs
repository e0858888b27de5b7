using BulkDispatch.Tests.Shared;
using System.Diagnostics;
using System.Text;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>What a finished <c>bulkdispatch</c> process printed and returned.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit code {ExitCode}{Environment.NewLine}--- stdout ---{Environment.NewLine}{Stdout}--- stderr ---{Environment.NewLine}{Stderr}";
}

/// <summary>Runs the real <c>bulkdispatch</c> executable (bulkdispatch.dll, built next to the tests) as a child process.</summary>
internal static class CliProcess
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    /// <summary>A start description with only the settings the test gives: none inherited from the machine running the tests.</summary>
    public static ProcessStartInfo StartInfo(string workingDirectory, params string[] args) => CliChildProcess.StartInfo(workingDirectory, args);

    /// <summary>Runs the CLI to its end (killed after 90 s) and returns its exit code and output.</summary>
    public static Task<CliResult> RunAsync(string workingDirectory, params string[] args) => RunAsync(StartInfo(workingDirectory, args));

    /// <summary>Runs the CLI as <paramref name="start"/> describes (from <see cref="StartInfo"/>, perhaps changed) to its end.</summary>
    public static async Task<CliResult> RunAsync(ProcessStartInfo start)
    {
        var args = start.ArgumentList.Skip(1);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the CLI");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"bulkdispatch {string.Join(' ', args)} did not finish within {Timeout.TotalSeconds} s.{Environment.NewLine}{await stderr}");
        }

        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A free loopback TCP port (free when asked; good enough for a test's child process).</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A temporary working folder, deleted afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("bulkdispatch-test-").FullName;

    public string Write(string name, string text)
    {
        string file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
