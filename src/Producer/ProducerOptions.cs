namespace BulkDispatch.Producer;

/// <summary>What to do with an event when the buffer is full.</summary>
public enum OverflowPolicy
{
    /// <summary>Refuse the new event at once and count it as dropped (the default: the request path never waits).</summary>
    DropNewest,

    /// <summary>Block the caller up to <see cref="ProducerOptions.BlockTimeout"/> for room, then drop it.</summary>
    Block,
}

/// <summary>
/// Settings of <see cref="SqsEventPublisher"/>: where the queue is (<c>BulkDispatch__Sqs__*</c>) and how
/// the buffer and the pump behave (<c>BulkDispatch__Producer__*</c>).
/// </summary>
public sealed class ProducerOptions
{
    /// <summary>The section of the queue settings.</summary>
    public const string SqsSection = "BulkDispatch:Sqs";

    /// <summary>The section of the producer settings.</summary>
    public const string Section = "BulkDispatch:Producer";

    /// <summary>The queue URL; when empty, <see cref="QueueName"/> in <see cref="Region"/> is looked up.</summary>
    public string? QueueUrl { get; set; }

    /// <summary>The queue name, used when <see cref="QueueUrl"/> is empty.</summary>
    public string QueueName { get; set; } = "event-queue";

    /// <summary>The queue's AWS region.</summary>
    public string Region { get; set; } = "us-west-2";

    /// <summary>An SQS endpoint override (emulators, VPC endpoints).</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>Events held in memory at most.</summary>
    public int BufferCapacity { get; set; } = 100_000;

    /// <summary>Body bytes held in memory at most.</summary>
    public long BufferBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>What happens to an event that finds the buffer full.</summary>
    public OverflowPolicy OverflowPolicy { get; set; } = OverflowPolicy.DropNewest;

    /// <summary>With <see cref="OverflowPolicy.Block"/>, how long a caller may wait for room.</summary>
    public TimeSpan BlockTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long the pump waits for a batch to fill before sending what it has.</summary>
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The largest message to write; 0 reads the queue's MaximumMessageSize (256 KiB if it cannot be read).</summary>
    public int MaxMessageBytes { get; set; }

    /// <summary>SendMessageBatch requests in flight at once.</summary>
    public int SendConcurrency { get; set; } = 4;

    /// <summary>The first retry delay after a throttled, failed or unreachable send; later ones grow exponentially with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between two retries (the pump keeps retrying while the process lives).</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long <c>DisposeAsync</c> may take to send what is buffered.</summary>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At most one warning about dropped events per this interval.</summary>
    public TimeSpan DropWarningInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Every problem with these settings, naming each setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!string.IsNullOrWhiteSpace(QueueUrl) && !IsHttp(QueueUrl))
        {
            errors.Add($"BulkDispatch__Sqs__QueueUrl: '{QueueUrl}' is not an http(s) URL. Example: https://sqs.us-west-2.amazonaws.com/123456789012/event-queue.");
        }

        if (string.IsNullOrWhiteSpace(QueueUrl) && string.IsNullOrWhiteSpace(QueueName))
        {
            errors.Add("BulkDispatch__Sqs__QueueName: set it, or BulkDispatch__Sqs__QueueUrl. Example: event-queue.");
        }

        if (!string.IsNullOrWhiteSpace(ServiceUrl) && !IsHttp(ServiceUrl))
        {
            errors.Add($"BulkDispatch__Sqs__ServiceUrl: '{ServiceUrl}' is not an http(s) URL. Example: http://localhost:4566.");
        }

        if (BufferCapacity is < 1 or > 10_000_000)
        {
            errors.Add($"BulkDispatch__Producer__BufferCapacity: {BufferCapacity} is outside 1 to 10000000. Example: 100000.");
        }

        if (BufferBytes < 1024 * 1024)
        {
            errors.Add($"BulkDispatch__Producer__BufferBytes: {BufferBytes} is under 1048576 (1 MiB). Example: 67108864.");
        }

        if (BlockTimeout < TimeSpan.Zero || BlockTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add($"BulkDispatch__Producer__BlockTimeout: {BlockTimeout} is outside 00:00:00 to 00:01:00. Example: 00:00:00.100.");
        }

        if (Linger < TimeSpan.Zero || Linger > TimeSpan.FromSeconds(10))
        {
            errors.Add($"BulkDispatch__Producer__Linger: {Linger} is outside 00:00:00 to 00:00:10. Example: 00:00:00.050.");
        }

        if (MaxMessageBytes != 0 && MaxMessageBytes is < 1024 or > 1_048_576)
        {
            errors.Add($"BulkDispatch__Producer__MaxMessageBytes: {MaxMessageBytes} is outside 1024 to 1048576 (0 reads the queue's limit). Example: 262144.");
        }

        if (SendConcurrency is < 1 or > 64)
        {
            errors.Add($"BulkDispatch__Producer__SendConcurrency: {SendConcurrency} is outside 1 to 64. Example: 4.");
        }

        if (RetryBaseDelay <= TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
        {
            errors.Add($"BulkDispatch__Producer__RetryBaseDelay / RetryMaxDelay: {RetryBaseDelay} / {RetryMaxDelay} must be positive and ordered. Example: 00:00:00.200 / 00:00:15.");
        }

        if (DisposeTimeout < TimeSpan.Zero || DisposeTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"BulkDispatch__Producer__DisposeTimeout: {DisposeTimeout} is outside 00:00:00 to 00:10:00. Example: 00:00:10.");
        }

        return errors;
    }

    private static bool IsHttp(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
