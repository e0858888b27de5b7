using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Xml.Linq;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.TestKit;
using Xunit.Abstractions;

namespace BulkDispatch.IntegrationTests.Packaging;

/// <summary>
/// What a new user does: pack, <c>dotnet tool install --tool-path --add-source</c> the package, and run the tool from an
/// empty folder, its first <c>demo</c> installing the emulator into an empty per-user cache with npm (needs the npm
/// registry). Packs the build these tests run against (<c>--no-build</c>), so it costs seconds, not a rebuild.
/// </summary>
[Collection(RunsAloneGroup.Name)]
public sealed class ToolPackageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(4);
    private static readonly string[] Libraries = ["Core", "Producer", "Flush", "QueueOperations"];

    [Fact]
    public async Task The_packed_tool_installs_and_runs_the_demo_from_an_empty_folder()
    {
        using var work = new TempDirectory();
        string packages = Path.Combine(work.Path, "packages");
        await PackAsync("src/Cli/BulkDispatch.Cli.csproj", packages);
        string version = PackageVersion(packages, "bulkdispatch");

        var install = await RunAsync(work.Path, Dotnet(), ["tool", "install", "bulkdispatch", "--tool-path", Path.Combine(work.Path, "tool"), "--add-source", packages, "--version", version]);
        Assert.True(install.ExitCode == 0, install.ToString());

        string tool = Path.Combine(work.Path, "tool", OperatingSystem.IsWindows() ? "bulkdispatch.exe" : "bulkdispatch");
        string empty = Directory.CreateDirectory(Path.Combine(work.Path, "empty")).FullName;
        string cache = Path.Combine(work.Path, "cache");

        var help = await RunToolAsync(tool, empty, cache, "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("demo", help.Stdout, StringComparison.Ordinal);

        var versionResult = await RunToolAsync(tool, empty, cache, "--version");
        Assert.True(versionResult.ExitCode == 0, versionResult.ToString());
        Assert.StartsWith(version, versionResult.Stdout.Trim(), StringComparison.Ordinal);

        var demo = await RunToolAsync(tool, empty, cache, "demo", "--visitors", "300");
        Assert.True(demo.ExitCode == 0, demo.ToString());
        Assert.Contains("Installing the SQS emulator", demo.Stderr, StringComparison.Ordinal);
        Assert.Contains("300 visitors", demo.Stdout, StringComparison.Ordinal);
        Assert.Contains("0 schema failures", demo.Stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(empty)); // nothing written where it ran
        var installed = Directory.GetDirectories(Path.Combine(cache, "bulkdispatch", "sqs-emulator"));
        Assert.True(installed.Length == 1 && File.Exists(Path.Combine(installed[0], "node_modules", "fauxqs", "package.json")), string.Join(", ", installed));
        Assert.False(File.Exists(Path.Combine(installed[0], "state.mjs")), "the tests' emulator aids must not ship");
    }

    [Fact]
    public async Task The_library_packages_carry_readme_licence_description_repository_and_symbols()
    {
        using var work = new TempDirectory();
        foreach (var library in Libraries)
        {
            await PackAsync($"src/{library}/BulkDispatch.{library}.csproj", work.Path);
        }

        string? version = null;
        foreach (var library in Libraries)
        {
            string id = "BulkDispatch." + library;
            string v = PackageVersion(work.Path, id);
            version ??= v;
            Assert.Equal(version, v); // one version for all
            Assert.True(File.Exists(Path.Combine(work.Path, $"{id}.{v}.snupkg")), $"{id} has no symbol package");

            using var package = ZipFile.OpenRead(Path.Combine(work.Path, $"{id}.{v}.nupkg"));
            var nuspec = XDocument.Load(package.GetEntry($"{id}.nuspec")!.Open());
            var metadata = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
            var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
            output.WriteLine($"{id}: license={Field("license")} readme={Field("readme")} repository={repository.Attribute("url")?.Value} commit={repository.Attribute("commit")?.Value}");

            Assert.Equal("MIT", Field("license"));
            Assert.Equal("README.md", Field("readme"));
            Assert.NotNull(package.GetEntry("README.md"));
            Assert.True(Field("description").Length > 80, $"{id}: '{Field("description")}'");
            Assert.Contains("optimizely", Field("tags"), StringComparison.Ordinal);
            Assert.StartsWith("https://github.com/", repository.Attribute("url")?.Value, StringComparison.Ordinal);
            Assert.Equal("git", repository.Attribute("type")?.Value);
            Assert.StartsWith("https://github.com/", Field("projectUrl"), StringComparison.Ordinal);
        }
    }

    /// <summary><c>dotnet pack --no-build</c> of the build these tests were compiled with.</summary>
    private async Task PackAsync(string project, string outputFolder)
    {
        string configuration = typeof(ToolPackageTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var pack = await RunAsync(RepositoryFolders.Root, Dotnet(), ["pack", Path.Combine(RepositoryFolders.Root, project), "-c", configuration, "--no-build", "-o", outputFolder, "-nologo"]);
        Assert.True(pack.ExitCode == 0, pack.ToString());
    }

    private static string PackageVersion(string folder, string id)
    {
        string prefix = id + ".";
        var file = Directory.GetFiles(folder, prefix + "*.nupkg").Select(Path.GetFileName).Single(f => char.IsAsciiDigit(f![prefix.Length]))!;
        return file[prefix.Length..^".nupkg".Length];
    }

    private Task<CliResult> RunToolAsync(string tool, string workingDirectory, string cache, params string[] args) =>
        RunAsync(workingDirectory, tool, args, environment =>
        {
            foreach (var key in environment.Keys.Where(k => k.StartsWith("BulkDispatch", StringComparison.OrdinalIgnoreCase)).ToList())
            {
                environment.Remove(key); // in particular BULKDISPATCH_SQS_EMULATOR_DIR: the tool must bring its own
            }

            environment["XDG_CACHE_HOME"] = cache; // an empty per-user cache: the first demo installs the emulator
            environment["DOTNET_ROOT"] = Path.GetDirectoryName(Dotnet())!;
        });

    private async Task<CliResult> RunAsync(string workingDirectory, string fileName, IEnumerable<string> args, Action<IDictionary<string, string?>>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        environment?.Invoke(start.Environment);
        output.WriteLine($"$ {fileName} {string.Join(' ', start.ArgumentList)}");
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {CommandTimeout}.{Environment.NewLine}{await stdout}{await stderr}");
        }

        var result = new CliResult(process.ExitCode, await stdout, await stderr);
        output.WriteLine(result.ToString());
        return result;
    }

    private static string Dotnet()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        var candidate = root is { Length: > 0 } ? Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet") : null;
        if (candidate is not null && File.Exists(candidate))
        {
            return candidate;
        }

        // The runtime folder is <dotnet root>/shared/Microsoft.NETCore.App/<version>/.
        var fromRuntime = Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", "dotnet"));
        return File.Exists(fromRuntime) ? fromRuntime : "dotnet";
    }
}
