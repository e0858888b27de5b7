using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;

namespace BulkDispatch.Flush.Queue;

/// <summary>
/// The flush's view of its queue: the gateway's description, with fatal SQS errors (wrong queue, no access) turned into
/// configuration errors that name the setting to fix. Public for the hosts that look after the same queues
/// (BulkDispatch.QueueOperations), so they resolve them and word these errors as the flush does.
/// </summary>
public static class QueueAccess
{
    /// <summary>The queue, its settings and its dead-letter queue (the setting, else the RedrivePolicy target).</summary>
    /// <param name="gateway">The gateway to the queue's SQS.</param>
    /// <param name="options">The <c>BulkDispatch__Sqs__*</c> settings.</param>
    /// <param name="cancellationToken">Stops the calls.</param>
    /// <exception cref="BulkDispatchConfigurationException">The queue does not exist or SQS refuses access.</exception>
    /// <exception cref="SqsRequestFailedException">SQS could not be reached or failed (transient).</exception>
    public static async Task<SqsQueueDescription> DescribeAsync(SqsGateway gateway, SqsOptions options, CancellationToken cancellationToken)
    {
        try
        {
            return await gateway.DescribeQueueAsync(options, cancellationToken: cancellationToken);
        }
        catch (SqsRequestFailedException ex) when (ex.Kind == SqsFailureKind.Fatal)
        {
            throw ConfigurationError(ex, QueueSetting(options), "sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility, sqs:GetQueueAttributes and sqs:SendMessage on the dead-letter queue");
        }
    }

    /// <summary>A fatal SQS error on a queue, as the configuration error it is: the setting that names the queue, and what to check.</summary>
    /// <param name="ex">The fatal failure.</param>
    /// <param name="queueSetting">The setting and its value, e.g. <c>BulkDispatch__Sqs__QueueUrl ('https://...')</c>.</param>
    /// <param name="permissions">The SQS actions the credentials need.</param>
    public static BulkDispatchConfigurationException ConfigurationError(SqsRequestFailedException ex, string queueSetting, string permissions) =>
        IsMissingQueue(ex)
            ? new BulkDispatchConfigurationException($"{queueSetting}: the queue does not exist. Check the name, the region and the account.")
            : new BulkDispatchConfigurationException(
                $"SQS refused access to the queue ({ex.ErrorCode}): {ex.InnerException?.Message} Check the AWS credentials (BulkDispatch__Aws__Credentials) and that they allow {permissions}.");

    /// <summary>The setting that names the queue, with its (redacted) value, for messages.</summary>
    /// <param name="options">The <c>BulkDispatch__Sqs__*</c> settings.</param>
    public static string QueueSetting(SqsOptions options) => string.IsNullOrWhiteSpace(options.QueueUrl)
        ? $"BulkDispatch__Sqs__QueueName ('{options.QueueName}' in {options.Region})"
        : $"BulkDispatch__Sqs__QueueUrl ({SettingsBinder.Show(options.QueueUrl)})";

    private static bool IsMissingQueue(SqsRequestFailedException ex) =>
        ex.InnerException is Amazon.SQS.Model.QueueDoesNotExistException || ex.ErrorCode is "AWS.SimpleQueueService.NonExistentQueue" or "QueueDoesNotExist";
}
