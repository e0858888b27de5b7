using System.Text;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Soak;
using Xunit.Abstractions;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// The fault soak (tests/BulkDispatch.Soak), short: a few thousand events through the real producer while
/// the emulator restarts, real flush processes killed (at least once between a POST and its delete) and a
/// faulty Event API; every event accepted or, for the marked visitors only, dead-lettered as rejected.
/// The full 100,000-event soak is <c>dotnet run -c Release --project tests/BulkDispatch.Soak</c>.
/// </summary>
[Collection(RunsAloneGroup.Name)]
public sealed class SoakTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Soak_with_faults_kills_and_an_emulator_restart_loses_no_event()
    {
        var options = new SoakOptions
        {
            Events = 3_000,
            Seed = 7,
            PublishRate = 300, // ten seconds of publishing, so kills and the restart land while it goes on
            RejectRate = 0.002,
            EmulatorRestarts = 1,
            MinKills = 3,
            Timeout = TimeSpan.FromMinutes(5),
            Log = new OutputWriter(output),
        };

        var result = await SoakRunner.RunAsync(options);
        output.WriteLine(result.ToText());

        Assert.True(result.Passed, result.ToText());
        Assert.Equal(0, result.Missing);
        Assert.Equal(result.Uuids, result.AcceptedUuids + result.DeadLetteredUuids);
        Assert.Equal(result.MarkedVisitors, result.DeadLetteredUuids); // one uuid per visitor in these events
        Assert.InRange(result.MarkedVisitors, 1, int.MaxValue);
        Assert.InRange(result.KillsBetweenPostAndDelete, 1, int.MaxValue);
        Assert.InRange(result.Kills, options.MinKills, int.MaxValue);
        Assert.Equal(1, result.EmulatorRestarts);
        Assert.InRange(result.PeakFlushWorkingSet, 1, options.FlushMemoryBoundBytes);
    }

    /// <summary>Progress lines into the test output.</summary>
    private sealed class OutputWriter(ITestOutputHelper output) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void WriteLine(string? value)
        {
            try
            {
                output.WriteLine(value ?? "");
            }
            catch (InvalidOperationException)
            {
                // The test already ended.
            }
        }
    }
}
