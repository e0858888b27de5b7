using Amazon.SQS;
using Amazon.SQS.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.Core.Sqs;

/// <summary>Settings of an <see cref="SqsGateway"/>.</summary>
public sealed class SqsGatewayOptions
{
    /// <summary>The clock of retry delays and receive timeouts (tests pass a fake one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The credentials the client signs with, when they can be read again after AWS refuses them; null otherwise.</summary>
    public IRefreshableCredentials? Credentials { get; init; }

    /// <summary>Where the gateway logs (an auth error that made it read the credentials again).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}

/// <summary>
/// The one way the producer, the flush and the queue commands talk to SQS. Batch calls take any number of items, split
/// them by SQS's limits and report an outcome per item instead of throwing; other calls throw
/// <see cref="SqsRequestFailedException"/>, which says whether the failure is transient. Every call runs through a
/// resilience pipeline: the caller's <see cref="SqsRetryPolicy"/>, and with refreshable credentials one retry with freshly
/// read credentials after AWS refuses them. Thread-safe.
/// </summary>
public sealed class SqsGateway
{
    private static readonly List<string> DescribeAttributes = ["VisibilityTimeout", "RedrivePolicy", "MaximumMessageSize"];
    private static readonly List<string> DepthAttributes = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"];

    private readonly IAmazonSQS _sqs;
    private readonly SqsResilience _resilience;
    private readonly SqsBatchRunner _batches;

    /// <summary>A gateway over <paramref name="sqs"/> (which the caller keeps and disposes).</summary>
    public SqsGateway(IAmazonSQS sqs, SqsGatewayOptions? options = null)
    {
        _sqs = Compat.NotNull(sqs, nameof(sqs));
        options ??= new SqsGatewayOptions();
        _resilience = new SqsResilience(options.TimeProvider, options.Credentials, options.LoggerFactory.CreateLogger(typeof(SqsGateway).FullName!));
        _batches = new SqsBatchRunner(_resilience);
    }

    /// <summary>
    /// The queue (its URL from the settings, else looked up by name), its visibility timeout, MaximumMessageSize and
    /// redrive policy, and the dead-letter queue: the setting, else the RedrivePolicy target's URL.
    /// </summary>
    public async Task<SqsQueueDescription> DescribeQueueAsync(SqsOptions options, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        Compat.NotNull(options, nameof(options));
        string queueUrl = string.IsNullOrWhiteSpace(options.QueueUrl)
            ? await GetQueueUrlAsync(options.QueueName, null, retry, cancellationToken).ConfigureAwait(false)
            : options.QueueUrl!;
        var attributes = await GetQueueAttributesAsync(queueUrl, DescribeAttributes, retry, cancellationToken).ConfigureAwait(false);
        int visibility = Int(attributes, "VisibilityTimeout") is > 0 and var v ? v : 30;
        int maxMessage = Int(attributes, "MaximumMessageSize") is > 0 and var m ? m : SqsLimits.MaxMessageBytes;
        var redrive = SqsRedrivePolicy.Parse(attributes.TryGetValue("RedrivePolicy", out var json) ? json : null);
        bool fromSetting = !string.IsNullOrWhiteSpace(options.DeadLetterQueueUrl);
        string? dlq = fromSetting ? options.DeadLetterQueueUrl
            : redrive?.DeadLetterTarget() is { } target ? await GetQueueUrlAsync(target.Name, target.Account, retry, cancellationToken).ConfigureAwait(false)
            : null;
        return new SqsQueueDescription(queueUrl, dlq, fromSetting, visibility, maxMessage, redrive);
    }

    /// <summary>The URL of the queue named <paramref name="queueName"/> (in <paramref name="ownerAccountId"/>, when given).</summary>
    public async Task<string> GetQueueUrlAsync(string queueName, string? ownerAccountId = null, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        var request = new GetQueueUrlRequest { QueueName = queueName, QueueOwnerAWSAccountId = ownerAccountId };
        var response = await CallAsync("GetQueueUrl", (sqs, token) => sqs.GetQueueUrlAsync(request, token), retry, cancellationToken).ConfigureAwait(false);
        return response.QueueUrl;
    }

    /// <summary>The queue attributes named (e.g. <c>QueueArn</c>, <c>All</c>); those SQS did not return are absent.</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetQueueAttributesAsync(
        string queueUrl, IEnumerable<string> names, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        var request = new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = [.. names] };
        var response = await CallAsync("GetQueueAttributes", (sqs, token) => sqs.GetQueueAttributesAsync(request, token), retry, cancellationToken).ConfigureAwait(false);
        return response.Attributes ?? new Dictionary<string, string>();
    }

    /// <summary>SQS's approximate counts of visible, in-flight and delayed messages.</summary>
    public async Task<SqsQueueDepth> GetDepthAsync(string queueUrl, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        var a = await GetQueueAttributesAsync(queueUrl, DepthAttributes, retry, cancellationToken).ConfigureAwait(false);
        return new SqsQueueDepth(Long(a, DepthAttributes[0]), Long(a, DepthAttributes[1]), Long(a, DepthAttributes[2]));
    }

    /// <summary>
    /// One long-poll receive; each attempt is abandoned after <see cref="SqsReceiveRequest.WaitTime"/> plus
    /// <see cref="SqsReceiveRequest.TimeoutMargin"/> (a transient failure; <see cref="SqsReceiveRequest.AttemptAbandoned"/>
    /// is told, as for an attempt cancelled in flight). Empty when no message came.
    /// </summary>
    public async Task<IReadOnlyList<Message>> ReceiveAsync(SqsReceiveRequest request, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        Compat.NotNull(request, nameof(request));
        int wait = (int)Math.Ceiling(Math.Min(Math.Max(request.WaitTime.TotalSeconds, 0), SqsLimits.MaxWaitTime.TotalSeconds));
        var sdkRequest = new ReceiveMessageRequest
        {
            QueueUrl = request.QueueUrl,
            MaxNumberOfMessages = Math.Min(Math.Max(request.MaxMessages, 1), SqsLimits.MaxBatchEntries),
            WaitTimeSeconds = wait,
            VisibilityTimeout = request.VisibilityTimeoutSeconds,
            MessageAttributeNames = request.MessageAttributeNames is { } attributes ? [.. attributes] : null,
            MessageSystemAttributeNames = request.SystemAttributeNames is { } system ? [.. system] : null,
        };
        var response = await _resilience.ExecuteAsync(
            "ReceiveMessage", retry, TimeSpan.FromSeconds(wait) + request.TimeoutMargin, token => ReceiveAttemptAsync(sdkRequest, request.AttemptAbandoned, token), cancellationToken).ConfigureAwait(false);
        return response.Messages ?? [];
    }

    // A cancelled attempt (its timeout, the caller, or the HTTP client's own timeout) may have reached SQS, which then
    // leased what it would have answered: the caller must not take a later empty answer for a drained queue.
    private async Task<ReceiveMessageResponse> ReceiveAttemptAsync(ReceiveMessageRequest sdkRequest, Action? abandoned, CancellationToken cancellationToken)
    {
        try
        {
            return await _sqs.ReceiveMessageAsync(sdkRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            abandoned?.Invoke();
            throw;
        }
    }

    /// <summary>
    /// Sends every message, in SendMessageBatch requests of at most 10 entries and 1 MiB. A message over
    /// <paramref name="maxMessageBytes"/> (the queue's MaximumMessageSize) is not sent: its outcome is the sender's fault.
    /// </summary>
    public Task<SqsBatchResult> SendBatchAsync(
        string queueUrl, IReadOnlyList<SqsOutgoingMessage> messages, int maxMessageBytes = SqsLimits.MaxMessageBytes, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        Compat.NotNull(messages, nameof(messages));
        var sizes = messages.Select(m => m.Bytes).ToList();
        var fits = Enumerable.Range(0, messages.Count).Where(i => sizes[i] <= maxMessageBytes).ToList();
        var chunks = SqsBatchChunker.Chunk(fits.Select(i => sizes[i]).ToList()).Select(chunk => chunk.Select(c => fits[c]).ToList());
        var outcomes = new SqsItemOutcome[messages.Count];
        foreach (int i in Enumerable.Range(0, messages.Count).Where(i => sizes[i] > maxMessageBytes))
        {
            outcomes[i] = SqsItemOutcome.Failed(SqsFailureKind.SenderFault, "MessageTooLong", $"the message has {sizes[i]} bytes; the queue takes at most {maxMessageBytes}");
        }

        return _batches.RunAsync("SendMessageBatch", outcomes, chunks, async (items, token) =>
        {
            var response = await _sqs.SendMessageBatchAsync(
                new SendMessageBatchRequest
                {
                    QueueUrl = queueUrl,
                    Entries = items.Select((item, position) => new SendMessageBatchRequestEntry(SqsBatchRunner.Id(position), messages[item].Body)
                    {
                        MessageAttributes = messages[item].Attributes is { Count: > 0 } a ? a.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal) : null,
                    }).ToList(),
                },
                token).ConfigureAwait(false);
            return new SqsBatchRunner.ChunkAnswer(response.Successful?.Select(s => s.Id) ?? [], response.Failed ?? []);
        }, retry, cancellationToken);
    }

    /// <summary>Deletes every received message, in DeleteMessageBatch requests of at most 10 entries.</summary>
    public Task<SqsBatchResult> DeleteBatchAsync(string queueUrl, IReadOnlyList<string> receiptHandles, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        Compat.NotNull(receiptHandles, nameof(receiptHandles));
        return _batches.RunAsync("DeleteMessageBatch", new SqsItemOutcome[receiptHandles.Count], SqsBatchChunker.Chunk(receiptHandles.Count), async (items, token) =>
        {
            var response = await _sqs.DeleteMessageBatchAsync(
                new DeleteMessageBatchRequest
                {
                    QueueUrl = queueUrl,
                    Entries = items.Select((item, position) => new DeleteMessageBatchRequestEntry(SqsBatchRunner.Id(position), receiptHandles[item])).ToList(),
                },
                token).ConfigureAwait(false);
            return new SqsBatchRunner.ChunkAnswer(response.Successful?.Select(s => s.Id) ?? [], response.Failed ?? []);
        }, retry, cancellationToken);
    }

    /// <summary>
    /// Sets the visibility timeout of every received message, in batches of at most 10; 0 makes them visible again at once.
    /// </summary>
    public Task<SqsBatchResult> ChangeVisibilityBatchAsync(
        string queueUrl, IReadOnlyList<string> receiptHandles, int visibilityTimeoutSeconds, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        Compat.NotNull(receiptHandles, nameof(receiptHandles));
        return _batches.RunAsync("ChangeMessageVisibilityBatch", new SqsItemOutcome[receiptHandles.Count], SqsBatchChunker.Chunk(receiptHandles.Count), async (items, token) =>
        {
            var response = await _sqs.ChangeMessageVisibilityBatchAsync(
                new ChangeMessageVisibilityBatchRequest
                {
                    QueueUrl = queueUrl,
                    Entries = items.Select((item, position) =>
                        new ChangeMessageVisibilityBatchRequestEntry(SqsBatchRunner.Id(position), receiptHandles[item]) { VisibilityTimeout = visibilityTimeoutSeconds }).ToList(),
                },
                token).ConfigureAwait(false);
            return new SqsBatchRunner.ChunkAnswer(response.Successful?.Select(s => s.Id) ?? [], response.Failed ?? []);
        }, retry, cancellationToken);
    }

    /// <summary>
    /// Any other SQS call (e.g. <c>StartMessageMoveTask</c>) through the same pipeline: retries per <paramref name="retry"/>,
    /// the credential refresh, and failures thrown as <see cref="SqsRequestFailedException"/>.
    /// </summary>
    public Task<T> CallAsync<T>(string operation, Func<IAmazonSQS, CancellationToken, Task<T>> call, SqsRetryPolicy? retry = null, CancellationToken cancellationToken = default)
    {
        Compat.NotNull(call, nameof(call));
        return _resilience.ExecuteAsync(operation, retry, Timeout.InfiniteTimeSpan, token => call(_sqs, token), cancellationToken);
    }

    private static int Int(IReadOnlyDictionary<string, string> attributes, string name) =>
        attributes.TryGetValue(name, out var text) && int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) ? value : 0;

    private static long Long(IReadOnlyDictionary<string, string> attributes, string name) =>
        attributes.TryGetValue(name, out var text) && long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long value) ? value : 0;
}
