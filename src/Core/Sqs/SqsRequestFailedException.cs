using System.Net;

namespace BulkDispatch.Core.Sqs;

/// <summary>
/// An SQS call failed after the retries its <see cref="SqsRetryPolicy"/> allowed. <see cref="Kind"/> says whether
/// a later attempt may succeed; <see cref="Exception.InnerException"/> is what the AWS SDK or the network threw.
/// </summary>
public sealed class SqsRequestFailedException : Exception
{
    /// <summary>Creates the exception for a failed <paramref name="operation"/>.</summary>
    /// <param name="operation">The SQS operation, e.g. <c>ReceiveMessage</c>.</param>
    /// <param name="kind">Transient, fatal or the sender's fault.</param>
    /// <param name="errorCode">The AWS error code, or the exception type when SQS did not answer.</param>
    /// <param name="message">What failed, in one sentence.</param>
    /// <param name="innerException">What the AWS SDK or the network threw.</param>
    public SqsRequestFailedException(string operation, SqsFailureKind kind, string errorCode, string message, Exception? innerException)
        : base(message, innerException)
    {
        Operation = operation;
        Kind = kind;
        ErrorCode = errorCode;
        StatusCode = innerException is null ? null : SqsErrors.StatusOf(innerException);
    }

    /// <summary>Creates the exception with a message.</summary>
    public SqsRequestFailedException()
        : this("SQS request failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public SqsRequestFailedException(string message)
        : this(message, null)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public SqsRequestFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Operation = "";
        Kind = SqsFailureKind.Transient;
        ErrorCode = innerException is null ? "" : SqsErrors.CodeOf(innerException);
    }

    /// <summary>The SQS operation that failed, e.g. <c>ReceiveMessage</c>.</summary>
    public string Operation { get; }

    /// <summary>Whether a later attempt may succeed.</summary>
    public SqsFailureKind Kind { get; }

    /// <summary>True when a later attempt may succeed.</summary>
    public bool IsTransient => Kind == SqsFailureKind.Transient;

    /// <summary>The AWS error code (e.g. <c>AccessDenied</c>), or the exception type when SQS did not answer.</summary>
    public string ErrorCode { get; }

    /// <summary>The HTTP status SQS answered with, when it answered.</summary>
    public HttpStatusCode? StatusCode { get; }
}
