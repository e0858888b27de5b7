using System.Diagnostics;
using System.Text;
using BulkDispatch.TestKit;

namespace BulkDispatch.Tests.Shared;

/// <summary>
/// How tests and the soak start the real <c>bulkdispatch</c> (bulkdispatch.dll, copied next to them by a
/// reference to src/Cli) as a child process: only the settings the caller gives, none from the machine.
/// </summary>
internal static class CliChildProcess
{
    /// <summary>
    /// A start description with redirected streams, no <c>BulkDispatch*</c>/<c>AWS_*</c> variables inherited, the emulator's
    /// dummy keys, and the repository's emulator folder for <c>demo</c>.
    /// </summary>
    public static ProcessStartInfo StartInfo(string workingDirectory, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory, // no appsettings.json there
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            CreateNoWindow = true,
        };
        start.ArgumentList.Add(CliDll());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("BulkDispatch", StringComparison.OrdinalIgnoreCase) || k.StartsWith("AWS_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        // The demo's emulator from the repository's tools/sqs-emulator (installed by scripts/test.sh), not the copy the
        // tool installs into the user's cache on first use (tests/BulkDispatch.IntegrationTests/ToolPackageTests covers that).
        start.Environment["BULKDISPATCH_SQS_EMULATOR_DIR"] = RepositoryFolders.SqsEmulator;

        start.Environment["AWS_ACCESS_KEY_ID"] = "test";
        start.Environment["AWS_SECRET_ACCESS_KEY"] = "test";
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        return start;
    }

    private static string CliDll()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "bulkdispatch.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: the project must reference src/Cli.");
    }

    /// <summary>The dotnet host: the one running us when we run under it, else DOTNET_HOST_PATH, DOTNET_ROOT or PATH.</summary>
    private static string DotnetHost()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        foreach (var candidate in new[]
        {
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"),
            Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root ? Path.Combine(root, "dotnet") : null,
        })
        {
            if (candidate is { Length: > 0 } && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return "dotnet";
    }
}
