using System.Runtime.InteropServices;

namespace BulkDispatch.Cli;

/// <summary>
/// Ctrl+C and SIGTERM for the commands that run to an end (flush, stats, redrive, demo): the first signal cancels the
/// command's token, so it stops taking on anything new, finishes what it holds and stops what it started (a flush
/// sends what it received and reports; <c>demo --keep-running</c> stops as asked; the others exit 1). A second Ctrl+C
/// ends the process at once: nothing is lost (messages not yet deleted come back after their visibility timeout) and
/// the emulator child stops when our end of its standard input closes.
/// </summary>
/// <remarks>
/// System.CommandLine's own handling ends an asynchronous command 2 seconds after the signal with 130 or 143, which
/// would cut a flush in the middle of sending and leave the demo's emulator behind. <c>serve</c> is synchronous and
/// leaves signals to the generic host instead.
/// </remarks>
internal sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;
    private int _signals;

    public Interrupt()
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first Ctrl+C or SIGTERM.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>Whether a signal asked the command to stop.</summary>
    public bool Requested => Volatile.Read(ref _signals) > 0;

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _cts.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Increment(ref _signals) > 1)
        {
            return; // the second one takes its default course: the process ends now
        }

        context.Cancel = true;
        Console.Error.WriteLine("bulkdispatch: stopping (finishing what is in hand; press Ctrl+C again to stop at once) ...");
        // Off the signal thread: the token's callbacks may take a moment.
        _ = Task.Run(_cts.Cancel);
    }
}
