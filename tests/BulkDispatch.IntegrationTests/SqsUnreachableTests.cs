using BulkDispatch.IntegrationTests.Infrastructure;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// SQS unreachable when a run starts (an outage, a restarting emulator) is transient like any other failure:
/// the run reports itself incomplete (exit 1) and says why, instead of crashing with exit 3.
/// </summary>
public sealed class SqsUnreachableTests
{
    [Fact]
    public async Task A_run_that_cannot_reach_SQS_is_incomplete_and_says_why()
    {
        using var dir = new TempDirectory();
        int closed = CliProcess.FreePort(); // nothing listens there

        var result = await CliProcess.RunAsync(dir.Path, "flush",
            "--set", $"BulkDispatch__Sqs__QueueUrl=http://sqs.us-west-2.localhost:{closed}/000000000000/event-queue",
            "--set", $"BulkDispatch__Sqs__ServiceUrl=http://localhost:{closed}");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("INCOMPLETE", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("SQS could not be reached", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected error", result.Stderr, StringComparison.Ordinal);
    }
}
