namespace BulkDispatch.Cli;

/// <summary>Process exit codes, documented in the README.</summary>
internal static class ExitCodes
{
    /// <summary>The run completed: it drained the queue, and everything received was delivered or dead-lettered.</summary>
    public const int Complete = 0;

    /// <summary>The run is incomplete: a transient failure, or a limit (time, messages, a cancel) before the queue was drained, left messages for the next run.</summary>
    public const int Incomplete = 1;

    /// <summary>Bad configuration: nothing was received.</summary>
    public const int BadConfiguration = 2;

    /// <summary>An unexpected error (a bug or the environment); the message says which.</summary>
    public const int Failed = 3;
}
