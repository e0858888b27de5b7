namespace BulkDispatch.TestKit;

/// <summary>Folders of the repository the tests run from, found from the test's output folder upwards.</summary>
internal static class RepositoryFolders
{
    private static readonly Lazy<string> RootFolder = new(() => FolderHolding("BulkDispatch.sln"));

    /// <summary>The folder holding BulkDispatch.sln.</summary>
    public static string Root => RootFolder.Value;

    /// <summary>tools/sqs-emulator: the emulator's start script and lock file (what the tool embeds) and the tests' aids.</summary>
    public static string SqsEmulator => Path.Combine(Root, "tools", "sqs-emulator");

    private static string FolderHolding(string file)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, file)))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No {file} above {AppContext.BaseDirectory}: the tests run from a clone of the repository.");
    }
}
