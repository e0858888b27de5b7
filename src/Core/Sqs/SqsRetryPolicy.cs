namespace BulkDispatch.Core.Sqs;

/// <summary>
/// How often an <see cref="SqsGateway"/> call is retried after a failure (a thrown error, or batch entries SQS failed
/// for its own reasons). Auth errors are handled apart from this: with refreshable credentials the gateway always reads
/// them again and retries once. Create a policy once and reuse it: the gateway builds one resilience pipeline per policy.
/// </summary>
/// <remarks>
/// The policies that keep each caller's behaviour: the flush's receive <c>Attempts(3)</c> (three failures in a row stop
/// the run as transient; a fatal error stops it at once), its deletes, dead-letter sends and visibility changes
/// <see cref="None"/> (a message not deleted comes back and is delivered again); the producer's sends
/// <see cref="UntilCancelled"/> with its RetryBaseDelay and RetryMaxDelay (the buffer, not a retry count, bounds what
/// is held); the redrive's deletes <c>Attempts(2)</c>.
/// </remarks>
public sealed class SqsRetryPolicy
{
    /// <summary>No retry: one attempt (plus the one retry after an auth error with refreshable credentials).</summary>
    public static SqsRetryPolicy None { get; } = new();

    /// <summary>Retries after this many failed attempts at most; 0 for none, <see cref="int.MaxValue"/> until the call is cancelled.</summary>
    public int MaxRetries { get; init; }

    /// <summary>The first delay; later ones grow exponentially with jitter. Zero: retry at once.</summary>
    public TimeSpan BaseDelay { get; init; }

    /// <summary>The longest delay between two attempts.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Retry every error but the sender's fault: fatal ones too (access denied, no such queue), and errors that are no SQS
    /// failure at all. For a sender that must keep trying until someone fixes the setup; only cancellation ends it.
    /// </summary>
    public bool RetryEveryError { get; init; }

    /// <summary>Called before each retry (e.g. to log or count it); must return quickly.</summary>
    public Action<SqsRetryEvent>? OnRetry { get; init; }

    /// <summary><paramref name="attempts"/> attempts in all, one right after the other.</summary>
    public static SqsRetryPolicy Attempts(int attempts) =>
        attempts >= 1 ? new SqsRetryPolicy { MaxRetries = attempts - 1 } : throw new ArgumentOutOfRangeException(nameof(attempts), attempts, "At least one attempt.");

    /// <summary>Retries every error but the sender's fault until the call's token is cancelled, backing off from <paramref name="baseDelay"/> to <paramref name="maxDelay"/>.</summary>
    public static SqsRetryPolicy UntilCancelled(TimeSpan baseDelay, TimeSpan maxDelay, Action<SqsRetryEvent>? onRetry = null) => new()
    {
        MaxRetries = int.MaxValue,
        BaseDelay = baseDelay,
        MaxDelay = maxDelay,
        RetryEveryError = true,
        OnRetry = onRetry,
    };
}

/// <summary>A retry about to happen.</summary>
/// <param name="Operation">The SQS operation, e.g. <c>SendMessageBatch</c>.</param>
/// <param name="Attempt">The attempt that failed, from 0.</param>
/// <param name="Delay">The wait before the next attempt.</param>
/// <param name="Exception">What the attempt threw; null when batch entries failed.</param>
/// <param name="FailedEntries">Batch entries to send again; 0 when the attempt threw.</param>
public readonly record struct SqsRetryEvent(string Operation, int Attempt, TimeSpan Delay, Exception? Exception, int FailedEntries);
