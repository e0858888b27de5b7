using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Core.Configuration;

/// <summary>Registers an options type the way every BulkDispatch registration does.</summary>
internal static class SettingsRegistration
{
    /// <summary>
    /// Binds <typeparamref name="T"/> from <paramref name="section"/> with <see cref="SettingsBinder"/>, adds its one
    /// validator, and, when <paramref name="validateOnStart"/>, has a generic host validate it while starting.
    /// </summary>
    public static OptionsBuilder<T> AddSettings<T>(this IServiceCollection services, IConfiguration configuration, string section, IValidateOptions<T> validator, bool validateOnStart)
        where T : class
    {
        var builder = services.AddOptions<T>().BindSettings(configuration, section);
        services.TryAddEnumerable(ServiceDescriptor.Singleton(validator));
        if (validateOnStart)
        {
            builder.ValidateOnStart();
        }

        return builder;
    }
}
