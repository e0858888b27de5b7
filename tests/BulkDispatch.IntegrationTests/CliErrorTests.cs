using System.Globalization;
using System.Net;
using System.Net.Sockets;
using BulkDispatch.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// Expected failures of the real <c>bulkdispatch</c> process end with their exit code (1 incomplete, 2 bad configuration
/// or arguments) and a line that says what to do, never a stack trace.
/// </summary>
public sealed class CliErrorTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("flush --bogus", "Unrecognized command or argument '--bogus'", "bulkdispatch flush --help")]
    [InlineData("demo --visitors many", "--visitors", "bulkdispatch demo --help")]
    [InlineData("", "Required command was not provided", "bulkdispatch --help")]
    [InlineData("stats --sample", "--sample", "bulkdispatch stats --help")]
    public async Task Bad_arguments_exit_2_with_the_error_and_where_help_is(string args, string error, string help)
    {
        using var dir = new TempDirectory();

        var result = await CliProcess.RunAsync(dir.Path, args.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(error, result.Stderr, StringComparison.Ordinal);
        Assert.Contains($"Run '{help}'", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout); // not the whole help
        AssertNoStackTrace(result);
    }

    [Fact]
    public async Task Demo_without_node_on_path_exits_2_saying_what_to_install()
    {
        using var dir = new TempDirectory();
        var start = CliProcess.StartInfo(dir.Path, "demo");
        start.Environment["PATH"] = dir.Path; // no node, no npm; the dotnet host is started by full path

        var result = await CliProcess.RunAsync(start);

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Install Node.js 20 or later", line, StringComparison.Ordinal);
        AssertNoStackTrace(result);
    }

    [Fact]
    public async Task Demo_keep_running_on_a_port_in_use_exits_2_naming_the_options_and_stops_the_emulator()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var dir = new TempDirectory();

        var result = await CliProcess.RunAsync(dir.Path, "demo", "--keep-running", "--visitors", "10", "--sqs-port", "0", "--api-port", port.ToString(CultureInfo.InvariantCulture));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"Port {port} is already in use", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("--api-port", result.Stderr, StringComparison.Ordinal);
        AssertNoStackTrace(result);
    }

    [Fact]
    public async Task A_signal_during_the_demo_stops_it_with_exit_1_and_stops_the_emulator_it_started()
    {
        using var dir = new TempDirectory();
        await using var demo = BackgroundCli.Start("demo", CliProcess.StartInfo(dir.Path, "demo", "--visitors", "200000"), output);
        var emulators = new List<int>();
        await demo.WaitForAsync(() => (emulators = EmulatorProcessIds(demo.ProcessId)).Count > 0, TimeSpan.FromSeconds(60), "the emulator process");

        int exit = await demo.StopAsync(TimeSpan.FromSeconds(60));

        Assert.True(exit == 1, demo.Describe($"exit code {exit}"));
        Assert.Contains("stopped before it finished", demo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", demo.Output, StringComparison.Ordinal);
        Assert.All(emulators, pid => Assert.False(IsRunning(pid), $"process {pid} (the emulator) outlived the demo"));
    }

    private static void AssertNoStackTrace(CliResult result)
    {
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected error", result.Stderr, StringComparison.Ordinal);
    }

    // Linux: /proc/PID/task/*/children lists the direct children of each thread; the emulator is `node start.mjs`.
    private static List<int> EmulatorProcessIds(int pid)
    {
        var ids = new List<int>();
        var tasks = $"/proc/{pid}/task";
        if (!Directory.Exists(tasks))
        {
            return ids;
        }

        foreach (var task in Directory.GetDirectories(tasks))
        {
            try
            {
                ids.AddRange(File.ReadAllText(Path.Combine(task, "children"))
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(id => int.Parse(id, CultureInfo.InvariantCulture)));
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return ids.Where(id => CommandLine(id).Contains("start.mjs", StringComparison.Ordinal)).ToList();
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static bool IsRunning(int pid)
    {
        var status = $"/proc/{pid}/status";
        try
        {
            // A zombie (State: Z) is dead; it only waits for its parent to reap it.
            return File.Exists(status) && !File.ReadAllText(status).Contains("State:\tZ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
