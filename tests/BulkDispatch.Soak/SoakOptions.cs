namespace BulkDispatch.Soak;

/// <summary>What one soak does; every random choice comes from <see cref="Seed"/>.</summary>
internal sealed record SoakOptions
{
    /// <summary>SDK events (LogEvents) published; each carries one or more visitors, each with its own uuid.</summary>
    public int Events { get; init; } = 100_000;

    /// <summary>Seeds event generation, faults, kills and the moments of the emulator restarts.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Share of Event API requests (without marked visitors) answered with a transient fault.</summary>
    public double FaultRate { get; init; } = 0.20;

    /// <summary>Share of SDK events with one marked visitor, which the Event API always rejects with 400.</summary>
    public double RejectRate { get; init; } = 0.0005;

    /// <summary>Events handed to the producer per second, so publishing overlaps the flushes, kills and restarts.</summary>
    public int PublishRate { get; init; } = 2_000;

    /// <summary>Emulator stop-and-restarts while the producer publishes.</summary>
    public int EmulatorRestarts { get; init; } = 2;

    /// <summary>Chance that a flush run is killed, while publishing goes on or fewer than <see cref="MinKills"/> happened.</summary>
    public double KillChance { get; init; } = 0.6;

    /// <summary>Kills to reach even if publishing ends first; at least one of them between a POST and its delete.</summary>
    public int MinKills { get; init; } = 10;

    /// <summary>The flush's receive budget (<c>BulkDispatch__Flush__MaxBufferedBytes</c>).</summary>
    public long FlushMaxBufferedBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>The flush's request cap (<c>BulkDispatch__Flush__MaxRequestBytes</c>); smaller keeps 400 splitting cheap.</summary>
    public int FlushMaxRequestBytes { get; init; } = 500_000;

    /// <summary>
    /// The GC heap limit of each flush process (<c>DOTNET_GCHeapHardLimit</c>), as a container memory limit
    /// sets it; 0 for none. Without it the GC is lazy on a big machine and the working set says little
    /// about what the flush holds.
    /// </summary>
    public long FlushGcHeapLimitBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>The peak working set every flush process must stay under (GC heap plus runtime, code and native buffers).</summary>
    public long FlushMemoryBoundBytes { get; init; } = 400L * 1024 * 1024;

    /// <summary>The queue's visibility timeout: how soon a killed run's messages come back.</summary>
    public int VisibilityTimeoutSeconds { get; init; } = 5;

    /// <summary>Validate every request body against the EventBatch schema (costs CPU on big runs).</summary>
    public bool ValidateSchema { get; init; } = true;

    /// <summary>The whole soak must finish within this.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Where progress lines go; nothing when <see langword="null"/>.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>Problems with the options, one line each; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Events < 1)
        {
            errors.Add("--events must be at least 1.");
        }

        if (FaultRate is < 0 or > 0.9)
        {
            errors.Add("--fault-rate must be between 0 and 0.9.");
        }

        if (RejectRate is < 0 or > 0.1)
        {
            errors.Add("--reject-rate must be between 0 and 0.1.");
        }

        if (PublishRate < 1)
        {
            errors.Add("--publish-rate must be at least 1.");
        }

        if (EmulatorRestarts < 0 || MinKills < 0 || KillChance is < 0 or > 1)
        {
            errors.Add("--emulator-restarts and --min-kills must not be negative; --kill-chance is between 0 and 1.");
        }

        return errors;
    }
}
