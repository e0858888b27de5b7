using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Credentials;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Flush.Configuration;

/// <summary>
/// The settings an SQS connection reads: <c>BulkDispatch__Sqs__*</c>, <c>BulkDispatch__Aws__*</c> and
/// <c>BulkDispatch__KeyVault__*</c>. Registered by <see cref="SqsGatewayServiceCollectionExtensions.AddBulkDispatchSqsGateway"/>,
/// for hosts that use the queues without the flush (the flush validates these and its own with every run).
/// </summary>
public sealed class SqsConnectionSettings
{
    private readonly IOptions<SqsOptions> _sqs;
    private readonly IOptions<AwsCredentialsOptions> _aws;
    private readonly IOptions<KeyVaultOptions> _keyVault;

    internal SqsConnectionSettings(IOptions<SqsOptions> sqs, IOptions<AwsCredentialsOptions> aws, IOptions<KeyVaultOptions> keyVault)
    {
        _sqs = sqs;
        _aws = aws;
        _keyVault = keyVault;
    }

    /// <summary>The queue settings, validated.</summary>
    /// <exception cref="BulkDispatchConfigurationException">A setting is invalid; every problem is listed, each naming its setting.</exception>
    public SqsOptions Sqs
    {
        get
        {
            ThrowIfInvalid();
            return _sqs.Value;
        }
    }

    /// <summary>Throws <see cref="BulkDispatchConfigurationException"/> listing every invalid setting, each with a valid example.</summary>
    public void ThrowIfInvalid()
    {
        var errors = new List<string>();
        SettingsValidation.Collect(errors, () => _sqs.Value);
        SettingsValidation.Collect(errors, () => _keyVault.Value);
        SettingsValidation.Collect(errors, () => _aws.Value);
        if (errors.Count > 0)
        {
            throw new BulkDispatchConfigurationException(errors);
        }
    }
}
