using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Credentials;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace BulkDispatch.Flush.Configuration;

/// <summary>
/// Checks every setting the flush uses at once and reports all problems together, each naming the
/// setting as an environment variable / app setting (<c>BulkDispatch__Section__Name</c>) with an example.
/// </summary>
internal sealed partial class SettingsValidation(
    IConfiguration configuration,
    IOptions<SqsOptions> sqs,
    IOptions<FlushOptions> flush,
    IOptions<OptimizelyOptions> optimizely,
    IOptions<LegacyOptions> legacy,
    IOptions<AwsCredentialsOptions> aws,
    IOptions<KeyVaultOptions> keyVault,
    Func<string, string?> environment)
{
    private const string KeyVaultReferencePrefix = "@Microsoft.KeyVault(";

    /// <summary>Throws <see cref="BulkDispatchConfigurationException"/> listing every problem.</summary>
    public void ThrowIfInvalid()
    {
        var errors = new List<string>();
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (value is not null && value.TrimStart().StartsWith(KeyVaultReferencePrefix, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"{SettingName(key)}: the Key Vault reference did not resolve (the app received the literal '@Microsoft.KeyVault(...)' text). " +
                           "Check that the function app's managed identity has the 'Key Vault Secrets User' role on the vault and that the secret URI is right (Azure portal: Configuration, the reference's status).");
            }
        }

        Collect(errors, SqsOptions.Section, () => sqs.Value, Validate);
        Collect(errors, FlushOptions.Section, () => flush.Value, Validate);
        Collect(errors, OptimizelyOptions.Section, () => optimizely.Value, Validate);
        Collect(errors, LegacyOptions.Section, () => legacy.Value, _ => []);
        var vault = new KeyVaultOptions();
        Collect(errors, KeyVaultOptions.Section, () => keyVault.Value, o => { vault = o; return []; });
        Collect(errors, AwsCredentialsOptions.Section, () => aws.Value, o => CredentialsValidation.Validate(o, vault, environment));
        if (errors.Count > 0)
        {
            throw new BulkDispatchConfigurationException(errors);
        }
    }

    /// <summary><c>BulkDispatch:Flush:MaxDuration</c> as users write it: <c>BulkDispatch__Flush__MaxDuration</c>.</summary>
    internal static string SettingName(string configurationKey) => configurationKey.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>
    /// Validates one section's options. A value the binder cannot convert (e.g. "four minutes" for a TimeSpan) is
    /// named, and the section is bound again without it, so the other problems of that section are listed too.
    /// </summary>
    private void Collect<T>(List<string> errors, string section, Func<T> bound, Func<T, IEnumerable<string>> validate)
        where T : class, new()
    {
        var unreadable = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var bind = bound;
        while (true)
        {
            try
            {
                errors.AddRange(validate(bind()));
                return;
            }
            catch (OptionsValidationException ex)
            {
                errors.AddRange(ex.Failures);
                return;
            }
            catch (InvalidOperationException ex) when (BinderKey().Match(ex.Message) is { Success: true } match && unreadable.Add(match.Groups[1].Value))
            {
                string key = match.Groups[1].Value;
                string type = match.Groups[2].Value.Replace("System.", "", StringComparison.Ordinal);
                errors.Add($"{SettingName(key)}: the value cannot be read as {type}. {ExampleFor(key)}");
                bind = () => BindWithout<T>(section, unreadable);
            }
        }
    }

    /// <summary>The section's options bound from its values minus <paramref name="skip"/> (not validated: the caller does that).</summary>
    private T BindWithout<T>(string section, HashSet<string> skip)
        where T : class, new()
    {
        string prefix = section + ":";
        var values = configuration.AsEnumerable()
            .Where(p => p.Value is not null && p.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && !skip.Contains(p.Key));
        var copy = new T();
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(section).Bind(copy);
        return copy;
    }

    private static string ExampleFor(string key) => key.Split(':')[^1] switch
    {
        "MaxDuration" => "Example: 00:04:00.",
        "SendGrace" or "BatchLinger" or "ReceiveTimeoutMargin" or "CircuitBreakDuration" or "AttemptTimeout" => "Example: 00:00:30.",
        "ReceiveWaitTime" or "RetryBaseDelay" => "Example: 00:00:02.",
        "Strict" or "AnonymizeIp" or "EnrichDecisions" => "Example: true.",
        "MaxRequestBytes" => "Example: 3000000.",
        "MaxBufferedBytes" => "Example: 67108864.",
        "MaxMessagesPerRun" => "Example: 100000.",
        "MaxRetries" => "Example: 4.",
        "RefreshInterval" => "Example: 00:15:00.",
        "SessionDuration" => "Example: 01:00:00.",
        _ => "Example: 8.",
    };

    internal static IEnumerable<string> Validate(SqsOptions o)
    {
        if (!string.IsNullOrWhiteSpace(o.QueueUrl) && !IsHttpUri(o.QueueUrl))
        {
            yield return $"BulkDispatch__Sqs__QueueUrl: {Show(o.QueueUrl)} is not an http(s) URL. Example: https://sqs.us-west-2.amazonaws.com/123456789012/event-queue.";
        }

        if (string.IsNullOrWhiteSpace(o.QueueUrl) && string.IsNullOrWhiteSpace(o.QueueName))
        {
            yield return "BulkDispatch__Sqs__QueueName: set it, or BulkDispatch__Sqs__QueueUrl. Example: event-queue.";
        }

        if (string.IsNullOrWhiteSpace(o.Region) || Amazon.RegionEndpoint.GetBySystemName(o.Region).DisplayName.Contains("Unknown", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"BulkDispatch__Sqs__Region: {Show(o.Region)} is not an AWS region. Example: us-west-2.";
        }

        if (!string.IsNullOrWhiteSpace(o.ServiceUrl) && !IsHttpUri(o.ServiceUrl))
        {
            yield return $"BulkDispatch__Sqs__ServiceUrl: {Show(o.ServiceUrl)} is not an http(s) URL. Example: http://localhost:4566.";
        }

        if (!string.IsNullOrWhiteSpace(o.DeadLetterQueueUrl) && !IsHttpUri(o.DeadLetterQueueUrl))
        {
            yield return $"BulkDispatch__Sqs__DeadLetterQueueUrl: {Show(o.DeadLetterQueueUrl)} is not an http(s) URL. Example: https://sqs.us-west-2.amazonaws.com/123456789012/event-queue-dlq.";
        }
    }

    internal static IEnumerable<string> Validate(FlushOptions o)
    {
        if (o.MaxDuration < TimeSpan.FromSeconds(1) || o.MaxDuration > TimeSpan.FromHours(11))
        {
            yield return $"BulkDispatch__Flush__MaxDuration: {o.MaxDuration} is outside 00:00:01 to 11:00:00; keep it under the host's functionTimeout. Example: 00:04:00.";
        }

        if (o.SendGrace < TimeSpan.Zero || o.SendGrace > TimeSpan.FromHours(1))
        {
            yield return $"BulkDispatch__Flush__SendGrace: {o.SendGrace} is outside 00:00:00 to 01:00:00. Example: 00:00:45.";
        }

        if (o.MaxRequestBytes is < 1024 or > 3_500_000)
        {
            yield return $"BulkDispatch__Flush__MaxRequestBytes: {o.MaxRequestBytes} is outside 1024 to 3500000 (the Event API takes at most 3.5 MB). Example: 3000000.";
        }

        if (o.ReceiveConcurrency is < 1 or > 64)
        {
            yield return $"BulkDispatch__Flush__ReceiveConcurrency: {o.ReceiveConcurrency} is outside 1 to 64. Example: 8.";
        }

        if (o.ReceiveWaitTime < TimeSpan.FromSeconds(1) || o.ReceiveWaitTime > TimeSpan.FromSeconds(20))
        {
            yield return $"BulkDispatch__Flush__ReceiveWaitTime: {o.ReceiveWaitTime} is outside 00:00:01 to 00:00:20 (the SQS long-poll limits). Example: 00:00:02.";
        }

        if (o.ReceiveTimeoutMargin < TimeSpan.FromSeconds(1) || o.ReceiveTimeoutMargin > TimeSpan.FromMinutes(2))
        {
            yield return $"BulkDispatch__Flush__ReceiveTimeoutMargin: {o.ReceiveTimeoutMargin} is outside 00:00:01 to 00:02:00. Example: 00:00:10.";
        }

        if (o.SendConcurrency is < 1 or > 64)
        {
            yield return $"BulkDispatch__Flush__SendConcurrency: {o.SendConcurrency} is outside 1 to 64. Example: 4.";
        }

        if ((o.MaxRequestBytes <= 3_500_000 && o.MaxBufferedBytes < 2L * o.MaxRequestBytes) || o.MaxBufferedBytes > 8L * 1024 * 1024 * 1024)
        {
            yield return $"BulkDispatch__Flush__MaxBufferedBytes: {o.MaxBufferedBytes} must be at least twice MaxRequestBytes ({2L * o.MaxRequestBytes}) and at most 8 GiB. Example: 67108864.";
        }

        if (o.MaxMessagesPerRun < 0)
        {
            yield return $"BulkDispatch__Flush__MaxMessagesPerRun: {o.MaxMessagesPerRun} is negative; 0 means no limit. Example: 100000.";
        }

        if (o.BatchLinger < TimeSpan.FromMilliseconds(100) || o.BatchLinger > TimeSpan.FromMinutes(10))
        {
            yield return $"BulkDispatch__Flush__BatchLinger: {o.BatchLinger} is outside 00:00:00.1 to 00:10:00. Example: 00:00:10.";
        }
    }

    internal static IEnumerable<string> Validate(OptimizelyOptions o)
    {
        if (!string.IsNullOrWhiteSpace(o.EndpointOverride) && !IsHttpUri(o.EndpointOverride))
        {
            yield return $"BulkDispatch__Optimizely__EndpointOverride: {Show(o.EndpointOverride)} is not an http(s) URL. Example: http://127.0.0.1:8080/v1/events.";
        }

        if (!string.IsNullOrWhiteSpace(o.AllowedEndpoints))
        {
            var bad = o.AllowedEndpoints
                .Split([',', ';', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(u => !IsHttpUri(u))
                .ToList();
            if (bad.Count > 0)
            {
                yield return $"BulkDispatch__Optimizely__AllowedEndpoints: '{string.Join("', '", bad)}' is not an http(s) URL. Example: {OptimizelyOptions.UsEndpoint},{OptimizelyOptions.EuEndpoint}.";
            }
        }

        if (o.MaxRetries is < 0 or > 20)
        {
            yield return $"BulkDispatch__Optimizely__MaxRetries: {o.MaxRetries} is outside 0 to 20. Example: 4.";
        }

        if (o.RetryBaseDelay < TimeSpan.FromMilliseconds(1) || o.RetryBaseDelay > TimeSpan.FromMinutes(1))
        {
            yield return $"BulkDispatch__Optimizely__RetryBaseDelay: {o.RetryBaseDelay} is outside 00:00:00.001 to 00:01:00. Example: 00:00:01.";
        }

        if (o.AttemptTimeout < TimeSpan.FromMilliseconds(100) || o.AttemptTimeout > TimeSpan.FromMinutes(5))
        {
            yield return $"BulkDispatch__Optimizely__AttemptTimeout: {o.AttemptTimeout} is outside 00:00:00.1 to 00:05:00. Example: 00:00:30.";
        }

        if (o.CircuitBreakDuration < TimeSpan.FromMilliseconds(500) || o.CircuitBreakDuration > TimeSpan.FromHours(1))
        {
            yield return $"BulkDispatch__Optimizely__CircuitBreakDuration: {o.CircuitBreakDuration} is outside 00:00:00.5 to 01:00:00. Example: 00:00:30.";
        }
    }

    [GeneratedRegex(@"at '([^']+)' to type '([^']+)'")]
    private static partial Regex BinderKey();

    /// <summary>A value for an error message; an unresolved Key Vault reference is reported on its own and not repeated.</summary>
    private static string Show(string? value) =>
        value is not null && value.TrimStart().StartsWith(KeyVaultReferencePrefix, StringComparison.OrdinalIgnoreCase) ? "(an unresolved Key Vault reference)" : $"'{value}'";

    private static bool IsHttpUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
