using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Core.Configuration;

/// <summary>
/// Binds a settings section onto flat options (strings, numbers, booleans, time spans, enums) with the same type
/// converters the configuration binder uses, but checks each raw value against its property's type first. A value that
/// cannot be read, an empty value for a non-string setting, and an unresolved Key Vault reference are left out (the
/// property keeps its default); <see cref="Problems"/> names each with an example instead of the first one throwing.
/// </summary>
internal static class SettingsBinder
{
    /// <summary>What an app setting holds when an Azure Key Vault reference did not resolve.</summary>
    public const string KeyVaultReferencePrefix = "@Microsoft.KeyVault(";

    /// <summary>Binds the readable values of <paramref name="section"/> onto <paramref name="target"/>.</summary>
    public static void Bind(IConfiguration section, object target)
    {
        foreach (var property in SettableProperties(target.GetType()))
        {
            if (section[property.Name] is { } raw && TryRead(raw, property.PropertyType, out object? value, out _))
            {
                property.SetValue(target, value);
            }
        }
    }

    /// <summary>Binds the section named <paramref name="section"/> of <paramref name="configuration"/> with <see cref="Bind"/>.</summary>
    public static OptionsBuilder<T> BindSettings<T>(this OptionsBuilder<T> builder, IConfiguration configuration, string section)
        where T : class => builder.Configure(o => Bind(configuration.GetSection(section), o));

    /// <summary>Every value of <paramref name="section"/> that <see cref="Bind"/> left out, each naming its setting (with an example when <paramref name="example"/> has one).</summary>
    public static IEnumerable<string> Problems(IConfigurationSection section, Type optionsType, Func<string, string?> example)
    {
        foreach (var property in SettableProperties(optionsType))
        {
            if (section[property.Name] is not { } raw)
            {
                continue;
            }

            string name = SettingName(section.Path + ":" + property.Name);
            if (IsKeyVaultReference(raw))
            {
                yield return UnresolvedReference(name);
            }
            else if (!TryRead(raw, property.PropertyType, out _, out string? problem) && problem is not null)
            {
                yield return $"{name}: {Show(raw)} {problem}." + (example(property.Name) is { } e ? $" Example: {e}." : "");
            }
        }
    }

    /// <summary><c>BulkDispatch:Flush:MaxDuration</c> as users write it: <c>BulkDispatch__Flush__MaxDuration</c>.</summary>
    public static string SettingName(string configurationPath) => configurationPath.Replace(":", "__");

    /// <summary>True when <paramref name="value"/> is the literal text of a Key Vault reference that did not resolve.</summary>
    public static bool IsKeyVaultReference(string? value) =>
        value is not null && value.TrimStart().StartsWith(KeyVaultReferencePrefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>The message for a setting holding an unresolved Key Vault reference (the reference itself is not repeated).</summary>
    public static string UnresolvedReference(string settingName) =>
        $"{settingName}: the Key Vault reference did not resolve (the app received the literal '@Microsoft.KeyVault(...)' text). " +
        "Check that the function app's managed identity has the 'Key Vault Secrets User' role on the vault and that the secret URI is right (Azure portal: Configuration, the reference's status).";

    /// <summary>A value for a message: quoted, with any URL's userinfo and query redacted; an unresolved Key Vault reference is not repeated.</summary>
    public static string Show(string? value) =>
        IsKeyVaultReference(value) ? "(an unresolved Key Vault reference)" : $"'{UrlRedaction.Redact(value)}'";

    /// <summary>True for an absolute http or https URL.</summary>
    public static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static IEnumerable<PropertyInfo> SettableProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.SetMethod!.IsPublic && p.GetIndexParameters().Length == 0 && IsSimple(p.PropertyType));

    private static bool IsSimple(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(TimeSpan) || t == typeof(decimal);
    }

    /// <summary>Converts <paramref name="raw"/> to <paramref name="type"/>; <paramref name="problem"/> says why not (null when the value is just left unset).</summary>
    private static bool TryRead(string raw, Type type, out object? value, out string? problem)
    {
        value = null;
        problem = null;
        if (IsKeyVaultReference(raw))
        {
            return false;
        }

        if (type == typeof(string))
        {
            value = raw;
            return true;
        }

        if (string.IsNullOrWhiteSpace(raw))
        {
            return false; // "BulkDispatch__Flush__MaxMessagesPerRun=" means the default
        }

        var t = Nullable.GetUnderlyingType(type) ?? type;
        string text = raw.Trim();
        if (t.IsEnum)
        {
            string? name = Enum.GetNames(t).FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase));
            value = name is null ? null : Enum.Parse(t, name);
            problem = name is null ? "is not one of " + string.Join(", ", Enum.GetNames(t)) : null;
            return name is not null;
        }

        try
        {
            value = TypeDescriptor.GetConverter(t).ConvertFromInvariantString(text);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException or InvalidCastException)
        {
            problem = Describe(t);
            return false;
        }
    }

    private static string Describe(Type t) =>
        t == typeof(bool) ? "is not true or false"
        : t == typeof(TimeSpan) ? "is not a time span (hh:mm:ss)"
        : t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) || t == typeof(uint) || t == typeof(ulong) || t == typeof(ushort) || t == typeof(sbyte)
            ? "is not a whole number (or is too large)"
        : t == typeof(double) || t == typeof(float) || t == typeof(decimal) ? "is not a number"
        : "cannot be read as " + t.Name;
}
