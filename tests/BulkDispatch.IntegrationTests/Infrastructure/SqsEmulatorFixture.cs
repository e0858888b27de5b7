using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>One real fauxqs emulator per test class; each test makes its own queues.</summary>
public sealed class SqsEmulatorFixture : IAsyncLifetime
{
    internal SqsEmulator Emulator { get; private set; } = null!;

    public async Task InitializeAsync() => Emulator = await TestEmulators.StartAsync();

    public async Task DisposeAsync() => await Emulator.DisposeAsync();
}
