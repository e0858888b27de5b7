using Microsoft.Extensions.Configuration;

namespace BulkDispatch.Cli;

/// <summary>
/// Builds the configuration every command reads, lowest precedence first: <c>appsettings.json</c> in the
/// working directory, environment variables, the <c>Values</c> of a <c>local.settings.json</c>-style
/// file given with <c>--settings</c>, then <c>--set NAME=VALUE</c> overrides. Names use <c>__</c> between
/// sections everywhere (<c>BulkDispatch__Flush__MaxDuration</c>), as Azure app settings do. <c>AWS_*</c>
/// entries of the file or the overrides also become environment variables, for the AWS SDK.
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

            var values = ReadValues(settingsFile);
            ExportAwsVariables(values);
            builder.AddInMemoryCollection(values);
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

        ExportAwsVariables(pairs);
        return builder.AddInMemoryCollection(pairs).Build();
    }

    /// <summary>
    /// The AWS SDK reads <c>AWS_*</c> (keys, profile, region) only from the process environment. The Functions
    /// host exports every <c>Values</c> entry of local.settings.json as one, so do the same for these: the same
    /// file then works under <c>func start</c> and with <c>--settings</c>. Empty values are left alone.
    /// </summary>
    private static void ExportAwsVariables(Dictionary<string, string?> values)
    {
        foreach (var (key, value) in values)
        {
            if (key.StartsWith("AWS_", StringComparison.OrdinalIgnoreCase) && !string.IsNullOrEmpty(value))
            {
                Environment.SetEnvironmentVariable(key.ToUpperInvariant(), value);
            }
        }
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
