using System.Diagnostics;
using System.Text;
using System.Text.Json;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using Xunit.Abstractions;
using static BulkDispatch.IntegrationTests.Infrastructure.FaultTestHelpers;
using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// At-least-once across crashes: a real <c>bulkdispatch flush</c> process killed after its POST reached
/// the Event API but before it could delete anything loses nothing; the next run delivers it all again.
/// </summary>
public sealed class CrashRecoveryTests(SqsEmulatorFixture fixture, ITestOutputHelper output) : IClassFixture<SqsEmulatorFixture>
{
    private const int VisibilityTimeoutSeconds = 3;

    [Fact]
    public async Task Flush_killed_between_post_and_delete_loses_nothing_and_next_run_delivers_everything()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator, visibilityTimeoutSeconds: VisibilityTimeoutSeconds);
        var events = DemoEvents.Generate(200, seed: 31);
        var messages = FlushHarness.Messages(events, perMessage: 2).ToList();
        await h.EnqueueAsync(messages);

        var work = Directory.CreateTempSubdirectory("bulkdispatch-crash-");
        string settingsFile = Path.Combine(work.FullName, "local.settings.json");
        await File.WriteAllTextAsync(settingsFile, JsonSerializer.Serialize(new
        {
            IsEncrypted = false,
            Values = new Dictionary<string, string>
            {
                ["BulkDispatch__Sqs__QueueUrl"] = h.QueueUrl,
                ["BulkDispatch__Sqs__ServiceUrl"] = h.Emulator.ServiceUrl.ToString(),
                ["BulkDispatch__Optimizely__EndpointOverride"] = h.EventApi.EventsUrl.ToString(),
                ["BulkDispatch__Flush__ReceiveWaitTime"] = "00:00:01",
                ["BulkDispatch__Flush__MaxDuration"] = "00:00:30",
            },
        }));

        var childOutput = new StringBuilder();
        using var child = new Process { StartInfo = CliProcess.StartInfo(work.FullName, "flush", "--settings", settingsFile, "--json"), EnableRaisingEvents = true };
        child.OutputDataReceived += (_, e) => Append(childOutput, "out: ", e.Data);
        child.ErrorDataReceived += (_, e) => Append(childOutput, "err: ", e.Data);

        // The first request from the child kills it (the whole tree) before it is answered; requests the child
        // had in flight at the same time wait here until it is dead. All are then answered 204: Optimizely
        // has the events, but the process never got to delete their messages.
        var gate = new Lock();
        bool killed = false;
        h.Faults.Policy = _ =>
        {
            lock (gate)
            {
                if (!killed)
                {
                    killed = true;
                    child.Kill(entireProcessTree: true);
                    child.WaitForExit(TimeSpan.FromSeconds(10));
                }
            }

            return null;
        };

        try
        {
            child.Start();
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await child.WaitForExitAsync(timeout.Token);
            }

            bool killedByUs;
            lock (gate)
            {
                killedByUs = killed; // waits for the policy to finish with the child
            }

            Assert.True(killedByUs, $"the child flush ended by itself (exit code {child.ExitCode}) before any request reached the Event API:\n{Text(childOutput)}");
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
                await child.WaitForExitAsync();
            }

            h.Faults.Policy = null;
            work.Delete(recursive: true);
        }

        // The crashed run deleted nothing, and after the visibility timeout every message is back.
        Assert.Equal(messages.Count, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
        Assert.Equal(
            Sorted(messages),
            await WaitUntilAllBackAsync(h, h.QueueUrl, messages.Count, TimeSpan.FromSeconds(VisibilityTimeoutSeconds), TimeSpan.FromSeconds(VisibilityTimeoutSeconds + 15)));

        // What the crashed run had posted (every request so far; each was answered 204 once the process was dead).
        var answered = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (h.EventApi.Requests.Any(r => r.Status == 0) && DateTime.UtcNow < answered)
        {
            await Task.Delay(50);
        }

        var crashed = h.EventApi.Requests;
        output.WriteLine($"killed child (exit code {child.ExitCode}) after {crashed.Count} request(s): {string.Join(", ", crashed)}");
        Assert.NotEmpty(crashed);
        Assert.All(crashed, r => Assert.True(r.Accepted, r.ToString()));
        var postedBeforeCrash = crashed.SelectMany(r => r.VisitorJson).ToList();

        // The next run delivers it all.
        await SetVisibilityTimeoutAsync(h, h.QueueUrl, 30); // the second run itself must not see redeliveries
        var report = await h.FlushAsync();
        output.WriteLine(report.ToText());

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(messages.Count, report.MessagesReceived);
        Assert.Equal(messages.Count, report.MessagesDeleted);
        Assert.Equal(events.Count, report.EventsDelivered);
        Assert.Equal(0, h.EventApi.SchemaFailures);

        // Nothing lost: every visitor accepted at least once; the only duplicates are what the crashed run had posted.
        var expected = Sorted(VisitorsOf(events));
        var accepted = Sorted(h.AcceptedVisitors());
        Assert.Equal(Sorted(expected.Concat(postedBeforeCrash)), accepted);
        Assert.Equal(expected, accepted.Distinct().ToList());
        Assert.Equal(postedBeforeCrash.Count, accepted.Count - expected.Count);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        Assert.Equal(0, await h.DepthAsync(h.DeadLetterQueueUrl));
    }

    private static void Append(StringBuilder output, string prefix, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.Append(prefix).AppendLine(line);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
