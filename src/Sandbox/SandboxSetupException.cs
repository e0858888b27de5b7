namespace BulkDispatch.Sandbox;

/// <summary>What stops a local stand-in from starting, so a command can pick its exit code.</summary>
public enum SandboxSetupProblem
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
public sealed class SandboxSetupException : Exception
{
    /// <summary>A setup failure of the given kind.</summary>
    /// <param name="problem">What kind of failure it is, which decides the exit code.</param>
    /// <param name="message">One line for the user: what failed and what to do.</param>
    /// <param name="innerException">What was thrown, if anything.</param>
    public SandboxSetupException(SandboxSetupProblem problem, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Problem = problem;
    }

    /// <summary>What kind of failure it is.</summary>
    public SandboxSetupProblem Problem { get; }
}
