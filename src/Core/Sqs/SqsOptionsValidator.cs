using BulkDispatch.Core.Configuration;
using Microsoft.Extensions.Configuration;
using static BulkDispatch.Core.Configuration.SettingsBinder;

namespace BulkDispatch.Core.Sqs;

/// <summary>The <c>BulkDispatch__Sqs__*</c> settings' rules, shared by the flush and the producer.</summary>
internal sealed class SqsOptionsValidator(IConfiguration? configuration) : SettingsValidator<SqsOptions>(configuration)
{
    /// <summary>A valid value of each setting, for messages.</summary>
    public static readonly IReadOnlyDictionary<string, string> Examples = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [nameof(SqsOptions.QueueUrl)] = "https://sqs.us-west-2.amazonaws.com/123456789012/event-queue",
        [nameof(SqsOptions.QueueName)] = "event-queue",
        [nameof(SqsOptions.Region)] = "us-west-2",
        [nameof(SqsOptions.ServiceUrl)] = "http://localhost:4566",
        [nameof(SqsOptions.DeadLetterQueueUrl)] = "https://sqs.us-west-2.amazonaws.com/123456789012/event-queue-dlq",
    };

    protected override IEnumerable<(string Section, Type Type, IReadOnlyDictionary<string, string> Examples)> Sources =>
        [(SqsOptions.Section, typeof(SqsOptions), Examples)];

    protected override IEnumerable<string> Rules(SqsOptions options) => Check(options);

    /// <summary>The rules alone (the producer applies them to the queue settings it composes).</summary>
    public static IEnumerable<string> Check(SqsOptions o)
    {
        if (!string.IsNullOrWhiteSpace(o.QueueUrl) && !IsHttpUrl(o.QueueUrl))
        {
            yield return $"BulkDispatch__Sqs__QueueUrl: {Show(o.QueueUrl)} is not an http(s) URL. Example: {Examples[nameof(SqsOptions.QueueUrl)]}.";
        }

        if (string.IsNullOrWhiteSpace(o.QueueUrl) && string.IsNullOrWhiteSpace(o.QueueName))
        {
            yield return $"BulkDispatch__Sqs__QueueName: set it, or BulkDispatch__Sqs__QueueUrl. Example: {Examples[nameof(SqsOptions.QueueName)]}.";
        }

        if (string.IsNullOrWhiteSpace(o.Region) || Amazon.RegionEndpoint.GetBySystemName(o.Region).DisplayName.Contains("Unknown"))
        {
            yield return $"BulkDispatch__Sqs__Region: {Show(o.Region)} is not an AWS region. Example: {Examples[nameof(SqsOptions.Region)]}.";
        }

        if (!string.IsNullOrWhiteSpace(o.ServiceUrl) && !IsHttpUrl(o.ServiceUrl))
        {
            yield return $"BulkDispatch__Sqs__ServiceUrl: {Show(o.ServiceUrl)} is not an http(s) URL. Example: {Examples[nameof(SqsOptions.ServiceUrl)]}.";
        }

        if (!string.IsNullOrWhiteSpace(o.DeadLetterQueueUrl) && !IsHttpUrl(o.DeadLetterQueueUrl))
        {
            yield return $"BulkDispatch__Sqs__DeadLetterQueueUrl: {Show(o.DeadLetterQueueUrl)} is not an http(s) URL. Example: {Examples[nameof(SqsOptions.DeadLetterQueueUrl)]}.";
        }
    }
}
