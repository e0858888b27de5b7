using System.Text.Json;
using System.Text.RegularExpressions;
using BulkDispatch.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// The local run of docs/azure-functions.md: <c>demo --keep-running</c> stands in for the cloud, and the host
/// that flushes is configured by local.settings.sample.json alone. The Functions app cannot run here (its
/// worker packages are not served), so <c>flush --settings</c> reads the file instead: the same settings
/// binding, the same engine, and the same <c>AWS_*</c> keys exported from <c>Values</c> as <c>func start</c> does.
/// </summary>
public sealed partial class LocalRunTests(ITestOutputHelper output)
{
    private const int Visitors = 400;

    [Fact]
    public async Task The_sample_settings_flush_the_keep_running_demo_with_keys_from_the_file_only()
    {
        using var dir = new TempDirectory();
        int sqsPort = CliProcess.FreePort();
        int apiPort = CliProcess.FreePort();
        await using var demo = BackgroundCli.Start(
            "demo --keep-running",
            CliProcess.StartInfo(dir.Path, "demo", "--keep-running", "--visitors", $"{Visitors}", "--sqs-port", $"{sqsPort}", "--api-port", $"{apiPort}"),
            output);
        await demo.WaitForLineAsync(WaitingLine(), TimeSpan.FromSeconds(90));

        // The sample names the documented ports (4566, 5080); this test listens on free ones.
        string sample = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "local.settings.sample.json"));
        string settings = dir.Write("local.settings.json", sample.Replace(":4566", $":{sqsPort}", StringComparison.Ordinal).Replace(":5080", $":{apiPort}", StringComparison.Ordinal));
        var flush = CliProcess.StartInfo(dir.Path, "flush", "--settings", settings, "--json");
        flush.Environment.Remove("AWS_ACCESS_KEY_ID"); // the keys must come from the file's Values
        flush.Environment.Remove("AWS_SECRET_ACCESS_KEY");

        var result = await CliProcess.RunAsync(flush);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(result.Stdout);
        Assert.Equal(Visitors, report.RootElement.GetProperty("visitorsDelivered").GetInt64());
        await demo.WaitForAsync(() => demo.Output.Contains($"{Visitors} of {Visitors} visitors, 0 schema failures", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the Event API's count");
        Assert.Equal(0, await demo.StopAsync());
        Assert.Contains("Stopping. Queue: 0 visible, 0 in flight", demo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_AWS_keys_anywhere_the_flush_names_the_credentials_setting_and_exits_2()
    {
        using var dir = new TempDirectory();
        string sample = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "local.settings.sample.json"));
        string settings = dir.Write("local.settings.json", sample
            .Replace("\"AWS_ACCESS_KEY_ID\": \"test\"", "\"AWS_ACCESS_KEY_ID\": \"\"", StringComparison.Ordinal)
            .Replace("\"AWS_SECRET_ACCESS_KEY\": \"test\"", "\"AWS_SECRET_ACCESS_KEY\": \"\"", StringComparison.Ordinal));
        var flush = CliProcess.StartInfo(dir.Path, "flush", "--settings", settings);
        flush.Environment.Remove("AWS_ACCESS_KEY_ID");
        flush.Environment.Remove("AWS_SECRET_ACCESS_KEY");
        flush.Environment["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(dir.Path, "no-credentials");
        flush.Environment["AWS_CONFIG_FILE"] = Path.Combine(dir.Path, "no-config");

        var result = await CliProcess.RunAsync(flush);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("BulkDispatch__Aws__Credentials", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("AWS_ACCESS_KEY_ID", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal); // a message, not a stack trace
    }

    [GeneratedRegex("Waiting for a flush")]
    private static partial Regex WaitingLine();
}
