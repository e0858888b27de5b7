using System.Diagnostics;
using System.Globalization;

namespace BulkDispatch.Sandbox;

/// <summary>Finds Node.js and npm for the SQS emulator and checks that Node is new enough for fauxqs.</summary>
public static class NodeRuntime
{
    /// <summary>fauxqs 1.9 runs on Node.js 20 and later.</summary>
    internal const int MinimumMajorVersion = 20;

    private const string InstallHint = "Install Node.js 20 or later (it includes npm; https://nodejs.org) and make sure 'node' and 'npm' are on PATH.";

    /// <summary>The <c>node</c> executable on PATH, checked to be version 20 or later.</summary>
    /// <exception cref="SandboxSetupException">Node is missing or too old.</exception>
    public static async Task<string> FindNodeAsync(CancellationToken cancellationToken)
    {
        var node = ChildProcess.FindOnPath("node") ?? throw new SandboxSetupException(
            SandboxSetupProblem.Prerequisite, "The demo's SQS emulator needs Node.js, and 'node' is not on PATH. " + InstallHint);
        var version = await ReadVersionAsync(node, cancellationToken);
        if (ParseMajorVersion(version) is not { } major || major < MinimumMajorVersion)
        {
            throw new SandboxSetupException(
                SandboxSetupProblem.Prerequisite,
                $"The demo's SQS emulator needs Node.js {MinimumMajorVersion} or later; '{node}' is {(string.IsNullOrEmpty(version) ? "of unknown version" : version)}. {InstallHint}");
        }

        return node;
    }

    /// <summary>The <c>npm</c> executable on PATH.</summary>
    /// <exception cref="SandboxSetupException">npm is missing.</exception>
    public static string FindNpm() => ChildProcess.FindOnPath("npm") ?? throw new SandboxSetupException(
        SandboxSetupProblem.Prerequisite, "Installing the demo's SQS emulator needs npm, and 'npm' is not on PATH. " + InstallHint);

    /// <summary>The major version of a <c>node --version</c> answer such as <c>v20.20.2</c>, or <see langword="null"/>.</summary>
    internal static int? ParseMajorVersion(string? version)
    {
        var text = version?.Trim() ?? string.Empty;
        if (text.StartsWith('v') || text.StartsWith('V'))
        {
            text = text[1..];
        }

        int dot = text.IndexOf('.', StringComparison.Ordinal);
        return int.TryParse(dot < 0 ? text : text[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int major) ? major : null;
    }

    private static async Task<string> ReadVersionAsync(string node, CancellationToken cancellationToken)
    {
        Process? process;
        try
        {
            process = Process.Start(ChildProcess.StartInfo(node, workingDirectory: null, "--version"));
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new SandboxSetupException(SandboxSetupProblem.Prerequisite, $"'{node} --version' could not be run ({ex.Message}). {InstallHint}", ex);
        }

        if (process is null)
        {
            return string.Empty;
        }

        using (process)
        {
            process.StandardInput.Close();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
                var errors = process.StandardError.ReadToEndAsync(timeout.Token); // drained, so a chatty node cannot block
                await process.WaitForExitAsync(timeout.Token);
                await errors;
                return (await output).Trim();
            }
            catch (OperationCanceledException)
            {
                ChildProcess.KillTree(process);
                if (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                return string.Empty; // no answer in 10 s: reported as "of unknown version"
            }
        }
    }
}
