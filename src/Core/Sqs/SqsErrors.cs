using System.Net;
using Amazon.Runtime;
using Amazon.SQS.Model;
using Polly.Timeout;

namespace BulkDispatch.Core.Sqs;

/// <summary>How a failed SQS call, or one entry of a batch, is to be treated.</summary>
public enum SqsFailureKind
{
    /// <summary>Try again later: throttling, server errors, timeouts, the network, credentials that could not be read for now.</summary>
    Transient,

    /// <summary>Retrying cannot help until someone changes something: the queue does not exist, access is denied, the credentials are refused.</summary>
    Fatal,

    /// <summary>This request or entry itself is invalid (SQS's SenderFault): sending it unchanged again cannot help.</summary>
    SenderFault,
}

/// <summary>The one place that decides whether an SQS failure is transient, fatal or the sender's fault.</summary>
public static class SqsErrors
{
    /// <summary>The AWS error codes that mean "these credentials are no longer good" (rotated, revoked, expired).</summary>
    private static readonly HashSet<string> AuthCodes = new(StringComparer.Ordinal) { "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken" };

    private static readonly HashSet<string> FatalCodes = new(StringComparer.Ordinal)
    {
        "AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
        "InvalidSecurity", "ExpiredToken", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
    };

    private static readonly HashSet<string> BatchTooLongCodes = new(StringComparer.Ordinal) { "AWS.SimpleQueueService.BatchRequestTooLong", "BatchRequestTooLong" };

    /// <summary>True for an AWS error code that means the request's credentials were refused (read them again, then retry once).</summary>
    public static bool IsAuthError(string? errorCode) => errorCode is not null && AuthCodes.Contains(errorCode);

    /// <summary>True when SQS refused a whole SendMessageBatch for its total size (send it in smaller parts).</summary>
    public static bool IsBatchTooLong(string? errorCode) => errorCode is not null && BatchTooLongCodes.Contains(errorCode);

    /// <summary>
    /// Whether <paramref name="exception"/> (from an SQS call) is transient, fatal or the sender's fault;
    /// null when it is no SQS or transport failure at all (a configuration error, a bug), which callers let pass.
    /// </summary>
    public static SqsFailureKind? Classify(Exception exception) => exception switch
    {
        null => null,
        SqsRequestFailedException failed => failed.Kind,
        QueueDoesNotExistException => SqsFailureKind.Fatal,
        AmazonServiceException service when service.ErrorCode is { } code && FatalCodes.Contains(code) => SqsFailureKind.Fatal,
        AmazonServiceException service when IsBatchTooLong(service.ErrorCode) => SqsFailureKind.SenderFault,
        AmazonServiceException => SqsFailureKind.Transient,
        AmazonClientException or HttpRequestException or IOException or TimeoutRejectedException or TimeoutException or OperationCanceledException => SqsFailureKind.Transient,
        _ => null,
    };

    /// <summary>How a failed batch entry is to be treated: SQS says whether the entry itself is at fault.</summary>
    public static SqsFailureKind ClassifyEntry(bool? senderFault) => senderFault == true ? SqsFailureKind.SenderFault : SqsFailureKind.Transient;

    /// <summary>The AWS error code of <paramref name="exception"/>, or its type name when it has none.</summary>
    internal static string CodeOf(Exception exception) => exception switch
    {
        AmazonServiceException { ErrorCode: { Length: > 0 } code } => code,
        AmazonServiceException { StatusCode: var status } when status != 0 => ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => exception.GetType().Name,
    };

    /// <summary>The HTTP status SQS answered with, when it answered.</summary>
    internal static HttpStatusCode? StatusOf(Exception exception) =>
        exception is AmazonServiceException { StatusCode: var status } && status != 0 ? status : null;
}
