namespace BulkDispatch.Flush.Configuration;

/// <summary>How one flush run behaves: the <c>BulkDispatch__Flush__*</c> settings.</summary>
public sealed class FlushOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "BulkDispatch:Flush";

    /// <summary>Stop receiving after this long (well under the host's timeout and the queue's visibility timeout).</summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromMinutes(4);

    /// <summary>After <see cref="MaxDuration"/>, how long sending what was received may still take before the run gives up (messages then stay in the queue).</summary>
    public TimeSpan SendGrace { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>The largest Event API request body, in bytes (the API takes 3.5 MB).</summary>
    public int MaxRequestBytes { get; set; } = 3_000_000;

    /// <summary>Parallel long-poll receive loops.</summary>
    public int ReceiveConcurrency { get; set; } = 8;

    /// <summary>Long-poll wait of each receive (SQS allows 1 to 20 s); an empty answer after it means the queue is drained.</summary>
    public TimeSpan ReceiveWaitTime { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How much longer than the wait a receive may take before it is abandoned (receives have been seen to hang).</summary>
    public TimeSpan ReceiveTimeoutMargin { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Event API requests in flight at once.</summary>
    public int SendConcurrency { get; set; } = 4;

    /// <summary>The most received-but-unsent message bytes held in memory; receiving pauses at this.</summary>
    /// <remarks>
    /// 32 MiB: about 30 version-2 messages (15,000 events), enough to fill 3.5 MB requests for a few groups at the same
    /// rate as 64 MiB, and a 1M-event drain peaks under 256 MiB (docs/benchmarks.md, issue 12). Fleets with many
    /// projects (many groups) fill their requests better with more.
    /// </remarks>
    public long MaxBufferedBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Stop receiving after this many messages (0: no limit other than time).</summary>
    public int MaxMessagesPerRun { get; set; }

    /// <summary>A request that has not filled up within this time is sent anyway while receiving goes on.</summary>
    public TimeSpan BatchLinger { get; set; } = TimeSpan.FromSeconds(10);
}
