using Amazon.Runtime;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace BulkDispatch.Flush.Credentials;

/// <summary>
/// The resilience pipeline around every SQS call when the credentials can be re-read: AWS refusing them
/// (rotated in the vault, expired) drops them and retries the call once with fresh ones.
/// </summary>
internal static class AuthErrorRetry
{
    /// <summary>The AWS error codes that mean "these credentials are no longer good".</summary>
    internal static readonly HashSet<string> ErrorCodes = new(StringComparer.Ordinal) { "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken" };

    /// <summary>The credentials' generation when an attempt started (set by <see cref="AuthRetryingProxy{T}"/>).</summary>
    internal static readonly ResiliencePropertyKey<long> GenerationKey = new("BulkDispatch.AwsCredentialsGeneration");

    public static ResiliencePipeline Create(IInvalidatableCredentials credentials, ILogger logger) =>
        new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = 1,
                Delay = TimeSpan.Zero,
                ShouldHandle = new PredicateBuilder().Handle<AmazonServiceException>(ex => ex.ErrorCode is { } code && ErrorCodes.Contains(code)),
                OnRetry = args =>
                {
                    credentials.Invalidate(args.Context.Properties.GetValue(GenerationKey, 0L));
                    logger.LogWarning("AWS refused the credentials ({ErrorCode}); reading them again from {Source} and retrying once.",
                        (args.Outcome.Exception as AmazonServiceException)?.ErrorCode, credentials.Describe);
                    return default;
                },
            })
            .Build();
}
