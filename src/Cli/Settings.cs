using Microsoft.Extensions.Configuration;

namespace BulkDispatch.Cli;

/// <summary>
/// Builds the configuration every command reads, lowest precedence first: <c>appsettings.json</c> in the
/// working directory, environment variables, the <c>Values</c> of a <c>local.settings.json</c>-style
/// file given with <c>--settings</c>, then <c>--set NAME=VALUE</c> overrides. Names use <c>__</c> between
/// sections everywhere (<c>BulkDispatch__Flush__MaxDuration</c>), as Azure app settings do.
/// </summary>
internal static class Settings
{
    public static IConfiguration Build(FileInfo? settingsFile, IReadOnlyList<string> overrides)
    {
        var builder = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true, reloadOnChange: false)
            .AddEnvironmentVariables();
        if (settingsFile is not null)
        {
            if (!settingsFile.Exists)
            {
                throw new SettingsFileException($"--settings: the file '{settingsFile.FullName}' does not exist.");
            }

            builder.AddInMemoryCollection(ReadValues(settingsFile));
        }

        var pairs = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in overrides)
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new SettingsFileException($"--set '{item}': write it as NAME=VALUE, e.g. --set BulkDispatch__Flush__MaxDuration=00:01:00.");
            }

            pairs[Key(item[..eq])] = item[(eq + 1)..];
        }

        return builder.AddInMemoryCollection(pairs).Build();
    }

    /// <summary>The <c>Values</c> section of a local.settings.json file (or the whole file when it has none).</summary>
    private static Dictionary<string, string?> ReadValues(FileInfo file)
    {
        IConfigurationRoot json;
        try
        {
            json = new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false, reloadOnChange: false).Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or System.Text.Json.JsonException)
        {
            throw new SettingsFileException($"--settings: '{file.FullName}' is not valid JSON ({ex.Message}).");
        }

        var values = json.GetSection("Values");
        var source = values.Exists() ? values.AsEnumerable(makePathsRelative: true) : json.AsEnumerable();
        return source.Where(p => p.Value is not null).ToDictionary(p => Key(p.Key), p => p.Value, StringComparer.OrdinalIgnoreCase);
    }

    private static string Key(string name) => name.Trim().Replace("__", ":", StringComparison.Ordinal);
}

/// <summary>The settings file or an override cannot be read.</summary>
internal sealed class SettingsFileException(string message) : Exception(message);
