using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;

namespace BulkDispatch.UnitTests.Sandbox;

/// <summary>What the tool ships for the demo's emulator, and how it reads Node's version.</summary>
public sealed class EmulatorInstallationTests
{
    [Fact]
    public void The_tool_ships_the_start_script_and_the_npm_lock_of_the_repository_and_nothing_else()
    {
        var assembly = typeof(SqsEmulator).Assembly;
        var shipped = assembly.GetManifestResourceNames().Where(n => n.StartsWith("sqs-emulator/", StringComparison.Ordinal)).Order(StringComparer.Ordinal);

        Assert.Equal(["sqs-emulator/package-lock.json", "sqs-emulator/package.json", "sqs-emulator/start.mjs"], shipped);
        foreach (var name in new[] { "start.mjs", "package.json", "package-lock.json" })
        {
            using var stream = assembly.GetManifestResourceStream("sqs-emulator/" + name)!;
            using var reader = new StreamReader(stream);
            Assert.Equal(File.ReadAllText(Path.Combine(RepositoryFolders.SqsEmulator, name)), reader.ReadToEnd());
        }
    }

    [Fact]
    public void The_cache_folder_is_named_after_the_version_and_the_shipped_files()
    {
        string name = EmulatorInstallation.ShippedVersion();

        Assert.Matches(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?-[0-9a-f]{12}$", name);
        Assert.DoesNotContain("+", name, StringComparison.Ordinal); // no commit hash: one install per release and lock file
    }

    [Theory]
    [InlineData("v20.20.2", 20)]
    [InlineData("v18.19.0\n", 18)]
    [InlineData("22", 22)]
    [InlineData("v24.0.0-nightly", 24)]
    [InlineData("", null)]
    [InlineData("node: not found", null)]
    public void Node_major_version_is_read_from_node_version(string output, int? major) =>
        Assert.Equal(major, NodeRuntime.ParseMajorVersion(output));
}
