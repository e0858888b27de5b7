using System.Collections.Concurrent;
using System.Globalization;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace BulkDispatch.Core.Sqs;

/// <summary>
/// The resilience pipelines around every SQS call of an <see cref="SqsGateway"/>, one per <see cref="SqsRetryPolicy"/>:
/// the policy's retries (outermost), then, with refreshable credentials, one retry after an auth error with freshly read
/// credentials, then the attempt's own timeout (receives). Failures come out as <see cref="SqsRequestFailedException"/>.
/// </summary>
internal sealed class SqsResilience(TimeProvider time, IRefreshableCredentials? credentials, ILogger logger)
{
    private static readonly ResiliencePropertyKey<long> GenerationKey = new("BulkDispatch.AwsCredentialsGeneration");
    private static readonly ResiliencePropertyKey<TimeSpan> TimeoutKey = new("BulkDispatch.AttemptTimeout");

    private readonly ConcurrentDictionary<SqsRetryPolicy, ResiliencePipeline> _pipelines = new();

    /// <summary>
    /// Runs <paramref name="call"/> under <paramref name="policy"/>; each attempt may take <paramref name="attemptTimeout"/>
    /// (<see cref="Timeout.InfiniteTimeSpan"/>: no limit). A failure SQS or the network caused is thrown as
    /// <see cref="SqsRequestFailedException"/>; the caller's cancellation and anything else (a configuration error a
    /// credential source threw, a bug) pass unchanged.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(string operation, SqsRetryPolicy? policy, TimeSpan attemptTimeout, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var pipeline = _pipelines.GetOrAdd(policy ?? SqsRetryPolicy.None, Build);
        var context = ResilienceContextPool.Shared.Get(operation, cancellationToken);
        context.Properties.Set(TimeoutKey, attemptTimeout);
        try
        {
            return await pipeline.ExecuteAsync(
                static async (context, state) =>
                {
                    // Which credentials this attempt is signed with, so a refusal drops those and not newer ones.
                    context.Properties.Set(GenerationKey, state.Credentials?.Generation ?? 0L);
                    return await state.Call(context.CancellationToken).ConfigureAwait(false);
                },
                context,
                (Credentials: credentials, Call: call)).ConfigureAwait(false);
        }
        catch (Exception ex) when (Failure(operation, ex, attemptTimeout, cancellationToken) is { } failure)
        {
            throw failure;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>The exception to throw for <paramref name="ex"/>, or null to let it pass unchanged.</summary>
    private static SqsRequestFailedException? Failure(string operation, Exception ex, TimeSpan attemptTimeout, CancellationToken cancellationToken)
    {
        if ((ex is OperationCanceledException && cancellationToken.IsCancellationRequested) || ex is SqsRequestFailedException || SqsErrors.Classify(ex) is not { } kind)
        {
            return null;
        }

        string code = SqsErrors.CodeOf(ex);
        string message = ex is TimeoutRejectedException
            ? string.Format(CultureInfo.InvariantCulture, "SQS {0} did not answer within {1:0.#} s.", operation, attemptTimeout.TotalSeconds)
            : $"SQS {operation} failed ({code}): {ex.Message}";
        return new SqsRequestFailedException(operation, kind, code, message, ex);
    }

    private ResiliencePipeline Build(SqsRetryPolicy policy)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (policy.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = policy.MaxRetries,
                Delay = policy.BaseDelay,
                MaxDelay = policy.MaxDelay > policy.BaseDelay ? policy.MaxDelay : policy.BaseDelay,
                BackoffType = policy.BaseDelay > TimeSpan.Zero ? DelayBackoffType.Exponential : DelayBackoffType.Constant,
                UseJitter = policy.BaseDelay > TimeSpan.Zero,
                ShouldHandle = args => new ValueTask<bool>(ShouldRetry(policy, args.Outcome, args.Context.CancellationToken)),
                OnRetry = args =>
                {
                    policy.OnRetry?.Invoke(new SqsRetryEvent(
                        args.Context.OperationKey ?? "", args.AttemptNumber, args.RetryDelay, args.Outcome.Exception, (args.Outcome.Result as IRetryableResult)?.Retryable ?? 0));
                    return default;
                },
            });
        }

        if (credentials is not null)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = 1,
                Delay = TimeSpan.Zero,
                ShouldHandle = args => new ValueTask<bool>(args.Outcome.Exception is AmazonServiceException { ErrorCode: var code } && SqsErrors.IsAuthError(code)),
                OnRetry = args =>
                {
                    credentials.Invalidate(args.Context.Properties.GetValue(GenerationKey, 0L));
                    logger.LogWarning("AWS refused the credentials ({ErrorCode}); reading them again from {Source} and retrying once.",
                        (args.Outcome.Exception as AmazonServiceException)?.ErrorCode, credentials.Describe);
                    return default;
                },
            });
        }

        builder.AddTimeout(new TimeoutStrategyOptions
        {
            TimeoutGenerator = args => new ValueTask<TimeSpan>(args.Context.Properties.GetValue(TimeoutKey, Timeout.InfiniteTimeSpan)),
        });
        return builder.Build();
    }

    private static bool ShouldRetry(SqsRetryPolicy policy, Outcome<object> outcome, CancellationToken cancellationToken)
    {
        if (outcome.Exception is { } ex)
        {
            if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            return SqsErrors.Classify(ex) switch
            {
                SqsFailureKind.Transient => true,
                SqsFailureKind.SenderFault => false,
                _ => policy.RetryEveryError,
            };
        }

        return outcome.Result is IRetryableResult { Retryable: > 0 };
    }
}

/// <summary>A batch attempt's result: how many entries SQS failed for reasons a retry may fix.</summary>
internal interface IRetryableResult
{
    int Retryable { get; }
}
