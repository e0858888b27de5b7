namespace BulkDispatch.Sandbox;

/// <summary>What stops a local stand-in from starting, so a command can pick its exit code.</summary>
internal enum SandboxSetupProblem
{
    /// <summary>A program is missing or too old (Node.js, npm): the message says what to install.</summary>
    Prerequisite,

    /// <summary>The port asked for is taken: the message names it and the option that changes it.</summary>
    PortInUse,

    /// <summary>Installing the emulator's npm packages failed (no access to the npm registry, a full disk).</summary>
    InstallFailed,
}

/// <summary>
/// A local stand-in (the SQS emulator, the local Event API) cannot start for a reason the user can fix.
/// The message is one line that says what to do; no stack trace is needed to act on it.
/// </summary>
internal sealed class SandboxSetupException : Exception
{
    public SandboxSetupException(SandboxSetupProblem problem, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Problem = problem;
    }

    public SandboxSetupProblem Problem { get; }
}
