using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Credentials;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Flush.Configuration;

/// <summary>
/// Runs every flush options type's validator (each registered as its <c>IValidateOptions&lt;T&gt;</c>) and reports all
/// problems together: what a run does before it receives anything, and what the CLI does at start.
/// </summary>
internal sealed class SettingsValidation(
    IOptions<SqsOptions> sqs,
    IOptions<FlushOptions> flush,
    IOptions<OptimizelyOptions> optimizely,
    IOptions<LegacyOptions> legacy,
    IOptions<AwsCredentialsOptions> aws,
    IOptions<KeyVaultOptions> keyVault)
{
    /// <summary>Throws <see cref="BulkDispatchConfigurationException"/> listing every problem.</summary>
    public void ThrowIfInvalid()
    {
        var errors = new List<string>();
        Collect(errors, () => sqs.Value);
        Collect(errors, () => flush.Value);
        Collect(errors, () => optimizely.Value);
        Collect(errors, () => legacy.Value);
        Collect(errors, () => keyVault.Value);
        Collect(errors, () => aws.Value);
        if (errors.Count > 0)
        {
            throw new BulkDispatchConfigurationException(errors);
        }
    }

    internal static void Collect<T>(List<string> errors, Func<T> read)
    {
        try
        {
            read();
        }
        catch (OptionsValidationException ex)
        {
            errors.AddRange(ex.Failures);
        }
    }
}
