using System.Text.Json;
using BulkDispatch.IntegrationTests.Infrastructure;

namespace BulkDispatch.IntegrationTests;

/// <summary>The README's first command, run as a process: the whole product on this machine.</summary>
public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_runs_to_the_end_and_its_counts_agree_with_the_local_endpoint()
    {
        using var dir = new TempDirectory();

        var result = await CliProcess.RunAsync(dir.Path, "demo", "--visitors", "700", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        var report = root.GetProperty("report");
        var api = root.GetProperty("eventApi");
        Assert.Equal(700, root.GetProperty("visitorsEnqueued").GetInt32());
        Assert.Equal(700, api.GetProperty("visitorsAccepted").GetInt32());
        Assert.Equal(700, report.GetProperty("visitorsDelivered").GetInt64());
        Assert.Equal(0, api.GetProperty("schemaFailures").GetInt32());
        Assert.Equal(root.GetProperty("sdkEvents").GetInt32(), root.GetProperty("producer").GetProperty("sent").GetInt64());
        Assert.Equal(report.GetProperty("requestsAccepted").GetInt64(), api.GetProperty("accepted").GetInt64());
        Assert.Equal(report.GetProperty("bytesSent").GetInt64(), api.GetProperty("bytes").GetInt64());
        Assert.Equal(0, root.GetProperty("queueMessagesLeft").GetInt64());
        Assert.Equal(0, root.GetProperty("deadLetterMessages").GetInt64());
    }
}
