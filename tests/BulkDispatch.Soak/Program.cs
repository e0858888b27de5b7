using System.CommandLine;
using System.Globalization;
using BulkDispatch.Soak;

// The fault soak as one command; SoakRunner does the work, the integration tests run a short one.
var events = new Option<int>("--events") { Description = "SDK events to publish.", DefaultValueFactory = _ => 100_000 };
var seed = new Option<int>("--seed") { Description = "Seeds the events, the faults, the kills and the emulator restarts.", DefaultValueFactory = _ => 42 };
var faultRate = new Option<double>("--fault-rate") { Description = "Share of Event API requests answered with a transient fault (500, 429, hang, drop).", DefaultValueFactory = _ => 0.20 };
var rejectRate = new Option<double>("--reject-rate") { Description = "Share of SDK events with a marked visitor the Event API rejects with 400.", DefaultValueFactory = _ => 0.0005 };
var publishRate = new Option<int>("--publish-rate") { Description = "Events handed to the producer per second.", DefaultValueFactory = _ => 2_000 };
var restarts = new Option<int>("--emulator-restarts") { Description = "Emulator stop-and-restarts while publishing.", DefaultValueFactory = _ => 2 };
var minKills = new Option<int>("--min-kills") { Description = "Flush processes to kill at least (one between a POST and its delete).", DefaultValueFactory = _ => 10 };
var killChance = new Option<double>("--kill-chance") { Description = "Chance that a flush run is killed while publishing goes on.", DefaultValueFactory = _ => 0.6 };
var memoryBound = new Option<int>("--flush-memory-mb") { Description = "Bound on each flush process's peak working set, in MB.", DefaultValueFactory = _ => 400 };
var heapLimit = new Option<int>("--flush-heap-limit-mb") { Description = "GC heap hard limit of each flush process, in MB, as a container limit sets it (0: none).", DefaultValueFactory = _ => 256 };
var noSchema = new Option<bool>("--no-schema") { Description = "Do not validate request bodies against the EventBatch schema (saves CPU)." };
var timeoutMinutes = new Option<int>("--timeout-minutes") { Description = "Give up after this many minutes.", DefaultValueFactory = _ => 60 };

var root = new RootCommand("""
    Fault soak: publishes events through the real producer into the fauxqs emulator (restarted while
    publishing, from a state snapshot), drains them with real `bulkdispatch flush` processes (killed at
    random moments, also between a POST and its delete) into a local Event API that faults ~20% of
    requests and rejects marked visitors with 400; then checks by uuid that every event was accepted or,
    for marked visitors only, dead-lettered, and that memory stayed bounded. Exit code 0 when it passed.

    Example: dotnet run -c Release --project tests/BulkDispatch.Soak -- --events 100000 --seed 42
    """)
{
    events, seed, faultRate, rejectRate, publishRate, restarts, minKills, killChance, memoryBound, heapLimit, noSchema, timeoutMinutes,
};
root.SetAction(async (parse, cancellationToken) =>
{
    var options = new SoakOptions
    {
        Events = parse.GetValue(events),
        Seed = parse.GetValue(seed),
        FaultRate = parse.GetValue(faultRate),
        RejectRate = parse.GetValue(rejectRate),
        PublishRate = parse.GetValue(publishRate),
        EmulatorRestarts = parse.GetValue(restarts),
        MinKills = parse.GetValue(minKills),
        KillChance = parse.GetValue(killChance),
        FlushMemoryBoundBytes = parse.GetValue(memoryBound) * 1024L * 1024,
        FlushGcHeapLimitBytes = parse.GetValue(heapLimit) * 1024L * 1024,
        ValidateSchema = !parse.GetValue(noSchema),
        Timeout = TimeSpan.FromMinutes(parse.GetValue(timeoutMinutes)),
        Log = Console.Out,
    };
    var problems = options.Validate();
    if (problems.Count > 0)
    {
        await Console.Error.WriteLineAsync(string.Join(Environment.NewLine, problems));
        return 2;
    }

    var result = await SoakRunner.RunAsync(options, cancellationToken);
    Console.Out.Write(result.ToText());
    return result.Passed ? 0 : 1;
});

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
return await root.Parse(args).InvokeAsync();
