using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine;

/// <summary>
/// The run's deadlines, all on the injected clock (the host's token is not reliably signalled on timeout):
/// receiving stops at <c>MaxDuration</c>, when the host cancels, or when the run gives up after a
/// transient failure; sending stops <c>SendGrace</c> later; deleting and dead-lettering 15 s after that.
/// </summary>
internal sealed partial class RunDeadlines : IDisposable
{
    /// <summary>Time after the send deadline for the last deletes and dead letters of what was sent.</summary>
    public static readonly TimeSpan SettleGrace = TimeSpan.FromSeconds(15);

    private readonly CancellationTokenSource _maxDuration;
    private readonly CancellationTokenSource _receiving;
    private readonly CancellationTokenSource _sending;
    private readonly CancellationTokenSource _settling;
    private readonly CancellationToken _host;
    private readonly ILogger _log;
    private readonly string _runId;
    private int _gaveUp;

    public RunDeadlines(TimeSpan maxDuration, TimeSpan sendGrace, TimeProvider time, ILogger log, string runId, CancellationToken host)
    {
        _maxDuration = new CancellationTokenSource(maxDuration, time);
        _receiving = CancellationTokenSource.CreateLinkedTokenSource(host, _maxDuration.Token);
        _sending = new CancellationTokenSource(maxDuration + sendGrace, time);
        _settling = new CancellationTokenSource(maxDuration + sendGrace + SettleGrace, time);
        _host = host;
        _log = log;
        _runId = runId;
    }

    /// <summary>Cancelled when receiving must stop: <c>MaxDuration</c> passed, the host cancelled, or the run gave up.</summary>
    public CancellationToken Receiving => _receiving.Token;

    /// <summary>Cancelled when no more Event API requests may start or wait: <c>MaxDuration</c> + <c>SendGrace</c>.</summary>
    public CancellationToken Sending => _sending.Token;

    /// <summary>Cancelled when the last queue calls (deletes, dead letters, the final depth) must stop.</summary>
    public CancellationToken Settling => _settling.Token;

    /// <summary>The host asked the run to stop.</summary>
    public bool HostCancelled => _host.IsCancellationRequested;

    /// <summary>A transient failure stopped the run: nothing more is received or sent.</summary>
    public bool GaveUp => Volatile.Read(ref _gaveUp) != 0;

    /// <summary>Stops receiving and sending for the rest of the run because of <paramref name="why"/> (said once in the log).</summary>
    public void GiveUp(string why)
    {
        if (Interlocked.Exchange(ref _gaveUp, 1) != 0)
        {
            return;
        }

        LogStopping(_log, _runId, why);
        try
        {
            _receiving.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Ends the run now, after a stage failed with an error retrying cannot fix (a configuration error mid-run): nothing
    /// more is received, sent, deleted or dead-lettered; what is held comes back after its visibility timeout.
    /// </summary>
    public void Abort()
    {
        foreach (var source in new[] { _receiving, _sending, _settling })
        {
            try
            {
                source.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    public void Dispose()
    {
        _receiving.Dispose();
        _maxDuration.Dispose();
        _sending.Dispose();
        _settling.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Flush {RunId}: stopping: {What}. Undelivered messages stay in the queue for the next run")]
    private static partial void LogStopping(ILogger logger, string runId, string what);
}
