using System.Net;
using Amazon.Runtime;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using Polly.Timeout;

namespace BulkDispatch.UnitTests.Core.Sqs;

/// <summary>The one transient / fatal / sender-fault classification of SQS failures.</summary>
public sealed class SqsErrorsTests
{
    public static TheoryData<Exception, SqsFailureKind?> Failures => new()
    {
        { new QueueDoesNotExistException("no such queue"), SqsFailureKind.Fatal },
        { ScriptedSqs.Error("AWS.SimpleQueueService.NonExistentQueue"), SqsFailureKind.Fatal },
        { ScriptedSqs.Error("AccessDenied", HttpStatusCode.Forbidden), SqsFailureKind.Fatal },
        { ScriptedSqs.Error("InvalidClientTokenId", HttpStatusCode.Forbidden), SqsFailureKind.Fatal },
        { ScriptedSqs.Error("SignatureDoesNotMatch", HttpStatusCode.Forbidden), SqsFailureKind.Fatal },
        { ScriptedSqs.Error("ExpiredToken", HttpStatusCode.Forbidden), SqsFailureKind.Fatal },
        { ScriptedSqs.Error("UnrecognizedClientException", HttpStatusCode.BadRequest), SqsFailureKind.Fatal },
        { ScriptedSqs.Error("ThrottlingException"), SqsFailureKind.Transient },
        { ScriptedSqs.Error("RequestThrottled", HttpStatusCode.Forbidden), SqsFailureKind.Transient },
        { ScriptedSqs.Error("InternalError", HttpStatusCode.InternalServerError, ErrorType.Receiver), SqsFailureKind.Transient },
        { ScriptedSqs.Error("ServiceUnavailable", HttpStatusCode.ServiceUnavailable, ErrorType.Receiver), SqsFailureKind.Transient },
        { ScriptedSqs.Error("AWS.SimpleQueueService.BatchRequestTooLong"), SqsFailureKind.SenderFault },
        { new HttpRequestException("connection refused"), SqsFailureKind.Transient },
        { new IOException("connection reset"), SqsFailureKind.Transient },
        { new TimeoutRejectedException(), SqsFailureKind.Transient },
        { new TaskCanceledException("HttpClient.Timeout"), SqsFailureKind.Transient },
        { new AmazonClientException("could not unmarshall the answer"), SqsFailureKind.Transient },
        { new InvalidOperationException("a bug"), null },
        { new ArgumentException("a configuration error"), null },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Each_failure_has_one_kind(Exception exception, SqsFailureKind? kind) => Assert.Equal(kind, SqsErrors.Classify(exception));

    [Fact]
    public void A_batch_entry_is_at_fault_only_when_sqs_says_so()
    {
        Assert.Equal(SqsFailureKind.SenderFault, SqsErrors.ClassifyEntry(true));
        Assert.Equal(SqsFailureKind.Transient, SqsErrors.ClassifyEntry(false));
        Assert.Equal(SqsFailureKind.Transient, SqsErrors.ClassifyEntry(null));
    }

    [Theory]
    [InlineData("InvalidClientTokenId", true)]
    [InlineData("SignatureDoesNotMatch", true)]
    [InlineData("ExpiredToken", true)]
    [InlineData("AccessDenied", false)]
    [InlineData(null, false)]
    public void Auth_errors_are_those_that_new_credentials_can_fix(string? code, bool auth) => Assert.Equal(auth, SqsErrors.IsAuthError(code));
}
