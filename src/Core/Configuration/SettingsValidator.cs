using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Core.Configuration;

/// <summary>
/// The one validator of an options type: first the raw settings it binds from (values that cannot be read, unresolved
/// Key Vault references), then the type's own rules, all reported at once, each naming its setting as an environment
/// variable (<c>BulkDispatch__Section__Name</c>) with an example.
/// </summary>
/// <param name="configuration">The configuration the options are bound from; null for options made in code (rules only).</param>
internal abstract class SettingsValidator<T>(IConfiguration? configuration) : IValidateOptions<T>
    where T : class
{
    /// <summary>The configuration the options are bound from; null for options made in code.</summary>
    protected IConfiguration? Configuration { get; } = configuration;

    /// <summary>The sections the options bind from, with the type each binds onto and its examples (by property name).</summary>
    protected abstract IEnumerable<(string Section, Type Type, IReadOnlyDictionary<string, string> Examples)> Sources { get; }

    /// <summary>Every problem with the options themselves; empty when valid.</summary>
    protected abstract IEnumerable<string> Rules(T options);

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = Errors(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Every problem, raw settings first.</summary>
    public IReadOnlyList<string> Errors(T options)
    {
        var errors = new List<string>();
        if (Configuration is not null)
        {
            foreach (var (section, type, examples) in Sources)
            {
                errors.AddRange(SettingsBinder.Problems(Configuration.GetSection(section), type, p => examples.TryGetValue(p, out var e) ? e : null));
            }
        }

        errors.AddRange(Rules(options));
        return errors;
    }
}
