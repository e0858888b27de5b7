using Microsoft.Extensions.Options;

namespace BulkDispatch.Flush.Configuration;

/// <summary>Runs one of <see cref="SettingsValidation"/>'s rule sets as an options validator, so a generic host's <c>ValidateOnStart</c> fails fast too.</summary>
internal sealed class DelegateOptionsValidator<T>(Func<T, IEnumerable<string>> rules) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = rules(options).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
