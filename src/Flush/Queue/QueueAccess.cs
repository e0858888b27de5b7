using System.Text.Json;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;

namespace BulkDispatch.Flush.Queue;

/// <summary>What the flush needs to know about its queue before the first receive.</summary>
/// <param name="QueueUrl">The queue.</param>
/// <param name="DeadLetterQueueUrl">Where permanent failures go, if anywhere.</param>
/// <param name="VisibilityTimeoutSeconds">The queue's default visibility timeout.</param>
/// <param name="MaxMessageBytes">The queue's MaximumMessageSize: the most one received message can weigh.</param>
internal sealed record QueueInfo(string QueueUrl, string? DeadLetterQueueUrl, int VisibilityTimeoutSeconds, int MaxMessageBytes = QueueInfo.SqsMaxMessageBytes)
{
    /// <summary>SQS's largest message (1 MiB), assumed when the queue does not say.</summary>
    public const int SqsMaxMessageBytes = 1024 * 1024;
}

/// <summary>
/// Resolves the queue and its dead-letter queue from the settings and the queue's own attributes,
/// and tells fatal SQS errors (wrong queue, no access: stop and say so) from transient ones.
/// </summary>
internal static class QueueAccess
{
    public static async Task<QueueInfo> DescribeAsync(IAmazonSQS sqs, SqsOptions options, CancellationToken cancellationToken)
    {
        string queueUrl = options.QueueUrl ?? "";
        try
        {
            if (string.IsNullOrWhiteSpace(queueUrl))
            {
                queueUrl = (await sqs.GetQueueUrlAsync(options.QueueName, cancellationToken)).QueueUrl;
            }

            var attributes = await sqs.GetQueueAttributesAsync(
                new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = ["VisibilityTimeout", "RedrivePolicy", "MaximumMessageSize"] },
                cancellationToken);
            int visibility = attributes.VisibilityTimeout > 0 ? attributes.VisibilityTimeout : 30;
            string? dlq = string.IsNullOrWhiteSpace(options.DeadLetterQueueUrl) ? null : options.DeadLetterQueueUrl;
            if (dlq is null && attributes.Attributes?.TryGetValue("RedrivePolicy", out var redrive) == true)
            {
                dlq = await DeadLetterQueueUrlAsync(sqs, redrive, cancellationToken);
            }

            int maxMessage = attributes.MaximumMessageSize is > 0 and var size ? size : QueueInfo.SqsMaxMessageBytes;
            return new QueueInfo(queueUrl, dlq, visibility, maxMessage);
        }
        catch (QueueDoesNotExistException)
        {
            string which = string.IsNullOrWhiteSpace(options.QueueUrl) ? $"BulkDispatch__Sqs__QueueName ('{options.QueueName}' in {options.Region})" : $"BulkDispatch__Sqs__QueueUrl ('{options.QueueUrl}')";
            throw new BulkDispatchConfigurationException($"{which}: the queue does not exist. Check the name, the region and the account.");
        }
        catch (Amazon.Runtime.AmazonClientException ex) when (ex.Message.StartsWith("Failed to resolve AWS credentials", StringComparison.Ordinal))
        {
            // The SDK's default chain found nothing; its own message lists every provider it tried.
            throw new BulkDispatchConfigurationException(
                "BulkDispatch__Aws__Credentials (Default): the AWS SDK found no credentials. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                + "(app settings, local.settings.json Values, or the environment), AWS_PROFILE, or a role; or set BulkDispatch__Aws__Credentials "
                + "to KeyVault or WebIdentity (see docs/credentials.md).", ex);
        }
        catch (AmazonSQSException ex) when (IsFatal(ex))
        {
            throw new BulkDispatchConfigurationException($"SQS refused access to the queue ({ex.ErrorCode}): {ex.Message} Check the AWS credentials (BulkDispatch__Aws__Credentials) and that they allow sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility, sqs:GetQueueAttributes and sqs:SendMessage on the dead-letter queue.");
        }
    }

    /// <summary>Errors that retrying cannot fix: stop the run and tell the operator.</summary>
    public static bool IsFatal(AmazonSQSException ex) => ex is QueueDoesNotExistException || ex.ErrorCode is
        "AccessDenied" or "AccessDeniedException" or "InvalidClientTokenId" or "SignatureDoesNotMatch" or
        "UnrecognizedClientException" or "InvalidSecurity" or "AWS.SimpleQueueService.NonExistentQueue" or "ExpiredToken";

    private static async Task<string?> DeadLetterQueueUrlAsync(IAmazonSQS sqs, string redrivePolicy, CancellationToken cancellationToken)
    {
        using var policy = JsonDocument.Parse(redrivePolicy);
        if (!policy.RootElement.TryGetProperty("deadLetterTargetArn", out var arnElement) || arnElement.GetString() is not { } arn)
        {
            return null;
        }

        // arn:aws:sqs:REGION:ACCOUNT:NAME
        var parts = arn.Split(':');
        if (parts.Length < 6)
        {
            return null;
        }

        var response = await sqs.GetQueueUrlAsync(new GetQueueUrlRequest { QueueName = parts[5], QueueOwnerAWSAccountId = parts[4] }, cancellationToken);
        return response.QueueUrl;
    }
}
