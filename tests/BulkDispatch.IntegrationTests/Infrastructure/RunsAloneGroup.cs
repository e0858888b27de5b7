namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>
/// Tests that run with no other test beside them: the soak (its flush processes and emulator restarts load two
/// cores enough to upset other tests' timing) and the two-second visibility-timeout test (its leases must be
/// renewed within a second, which a loaded machine can miss).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAloneGroup
{
    public const string Name = "Runs alone";
}
