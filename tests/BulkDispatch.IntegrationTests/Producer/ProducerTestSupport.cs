using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer;
using BulkDispatch.Sandbox;
using BulkDispatch.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.IntegrationTests.Producer;

/// <summary>One event as a test hands it to <see cref="SqsEventPublisher.TryPublish"/>.</summary>
internal sealed record PublishedEvent(string Url, string Verb, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The event as a comparable text: URL, verb, headers sorted by name, and the body's UTF-8 bytes (one char per byte).</summary>
    public string Key => ProducerTestSupport.Key(Url, Verb, Headers, Encoding.UTF8.GetBytes(Body));

    public bool Publish(SqsEventPublisher publisher) => publisher.TryPublish(Url, Verb, Headers, Body);
}

/// <summary>Event sources, queue readers and comparisons shared by the producer's integration tests.</summary>
internal static class ProducerTestSupport
{
    /// <summary>A header every generated event carries with its index, so each published event is distinguishable.</summary>
    public const string SequenceHeader = "X-Test-Sequence";

    private static readonly Lazy<IReadOnlyList<QueuedEvent>> Demo = new(() => DemoEvents.GenerateEvents(2_000, seed: 7));

    /// <summary>Bodies made by <see cref="DemoEvents"/>: 1 to 10 visitors, non-ASCII and emoji in ids, both endpoints.</summary>
    public static IReadOnlyList<QueuedEvent> DemoBodies => Demo.Value;

    /// <summary>
    /// Event number <paramref name="index"/>: alternately a recorded SDK LogEvent and a generated one (cycling
    /// through each list), with the source's URL, verb and headers plus <see cref="SequenceHeader"/>.
    /// </summary>
    public static PublishedEvent Varied(int index)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string url, verb, body;
        if (index % 2 == 0)
        {
            var v = TestVectors.All[index / 2 % TestVectors.All.Count];
            (url, verb, body) = (v.Url, v.HttpVerb, v.Body);
            foreach (var (name, value) in v.Headers)
            {
                headers[name] = value;
            }
        }
        else
        {
            var d = DemoBodies[index / 2 % DemoBodies.Count];
            (url, verb, body) = (d.Url, d.HttpVerb, d.Body);
            foreach (var (name, value) in d.Headers)
            {
                headers[name] = value;
            }
        }

        headers[SequenceHeader] = index.ToString(CultureInfo.InvariantCulture);
        return new PublishedEvent(url, verb, headers, body);
    }

    /// <summary>Each recorded SDK LogEvent exactly as recorded (no added header).</summary>
    public static List<PublishedEvent> RecordedEvents() =>
        TestVectors.All.Select(v => new PublishedEvent(v.Url, v.HttpVerb, v.Headers, v.Body)).ToList();

    /// <summary>Options for tests: the given queue, short linger and retry delays, and a generous dispose deadline.</summary>
    public static ProducerOptions FastOptions(string queueUrl) => new()
    {
        Sqs = { QueueUrl = queueUrl },
        Linger = TimeSpan.FromMilliseconds(20),
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(300),
        DisposeTimeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>An SQS client for the emulator whose SendMessageBatch calls can be held and are recorded.</summary>
    public static RecordingSqsClient CreateRecordingClient(SqsEmulator emulator) =>
        new(new BasicAWSCredentials("test", "test"), new AmazonSQSConfig
        {
            ServiceURL = emulator.ServiceUrl.ToString(),
            AuthenticationRegion = SqsEmulator.Region,
            Timeout = TimeSpan.FromSeconds(25),
        });

    /// <summary>A queue on the emulator, with attributes (e.g. MaximumMessageSize).</summary>
    public static async Task<string> CreateQueueAsync(SqsEmulator emulator, string prefix, Dictionary<string, string>? attributes = null)
    {
        using var sqs = emulator.CreateClient();
        string name = prefix + "-" + Guid.NewGuid().ToString("N")[..10];
        var response = await sqs.CreateQueueAsync(new CreateQueueRequest { QueueName = name, Attributes = attributes ?? [] });
        return response.QueueUrl;
    }

    /// <summary><c>FlushAsync</c>, failing the test instead of hanging when it does not return within the guard time.</summary>
    public static async Task FlushOrFailAsync(SqsEventPublisher publisher, int guardSeconds = 120)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(guardSeconds));
        try
        {
            await publisher.FlushAsync(guard.Token);
        }
        catch (OperationCanceledException) when (guard.IsCancellationRequested)
        {
            Assert.Fail($"FlushAsync did not return within {guardSeconds} s; statistics: {publisher.Statistics}");
        }
    }

    /// <summary>
    /// Receives every message now in the queue with <paramref name="loops"/> parallel receive loops and hands
    /// each body to <paramref name="onMessage"/> (called concurrently). Messages stay invisible for 10 minutes, so
    /// none is seen twice. Returns the number of messages.
    /// </summary>
    public static async Task<int> ReceiveAllAsync(IAmazonSQS sqs, string queueUrl, Action<string> onMessage, int loops = 8)
    {
        int count = 0;
        await Task.WhenAll(Enumerable.Range(0, loops).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var response = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest
                {
                    QueueUrl = queueUrl,
                    MaxNumberOfMessages = 10,
                    WaitTimeSeconds = 1,
                    VisibilityTimeout = 600,
                });
                if (response.Messages is not { Count: > 0 } messages)
                {
                    return;
                }

                foreach (var m in messages)
                {
                    onMessage(m.Body);
                    Interlocked.Increment(ref count);
                }
            }
        })));
        return count;
    }

    /// <summary>Every event in every message now in the queue, as <see cref="Key"/> texts.</summary>
    public static async Task<List<string>> ReceiveEventKeysAsync(IAmazonSQS sqs, string queueUrl)
    {
        var keys = new ConcurrentBag<string>();
        await ReceiveAllAsync(sqs, queueUrl, body =>
        {
            foreach (var e in Decode(body))
            {
                keys.Add(Key(e.Url, e.HttpVerb, e.Headers, e.Body.ToArray()));
            }
        });
        return [.. keys];
    }

    /// <summary>The events of one wire-format message (fails the test when it does not decode).</summary>
    public static IReadOnlyList<DecodedEvent> Decode(string messageBody)
    {
        var result = MessageDecoder.Decode(messageBody, legacy: null);
        Assert.True(result.Succeeded, $"a message the producer wrote does not decode: {result.FailureReason}: {result.FailureDetail}");
        return result.Events;
    }

    /// <summary>An event as text: URL, verb, headers sorted by name, body bytes mapped one char per byte (exact comparison).</summary>
    public static string Key(string url, string verb, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        var text = new StringBuilder(url.Length + body.Length + 128);
        text.Append(url).Append('\u0001').Append(verb).Append('\u0001');
        foreach (var (name, value) in headers.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            text.Append(name).Append('\u0002').Append(value).Append('\u0003');
        }

        text.Append('\u0001').Append(Encoding.Latin1.GetString(body));
        return text.ToString();
    }

    /// <summary>Asserts that two collections hold the same items the same number of times, and says what differs.</summary>
    public static void AssertSameMultiset(IEnumerable<string> expected, IEnumerable<string> actual, string what)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        int expectedCount = 0, actualCount = 0;
        foreach (var e in expected)
        {
            counts[e] = counts.GetValueOrDefault(e) + 1;
            expectedCount++;
        }

        foreach (var a in actual)
        {
            counts[a] = counts.GetValueOrDefault(a) - 1;
            actualCount++;
        }

        var missing = counts.Where(c => c.Value > 0).ToList();
        var extra = counts.Where(c => c.Value < 0).ToList();
        if (missing.Count == 0 && extra.Count == 0)
        {
            return;
        }

        Assert.Fail(
            $"{what}: expected {expectedCount}, found {actualCount}; {missing.Sum(m => m.Value)} missing, {-extra.Sum(e => e.Value)} extra or duplicated."
            + (missing.Count > 0 ? $"{Environment.NewLine}first missing: {Shorten(missing[0].Key)}" : "")
            + (extra.Count > 0 ? $"{Environment.NewLine}first extra: {Shorten(extra[0].Key)}" : ""));
    }

    private static string Shorten(string key) => (key.Length > 300 ? key[..300] + "…" : key).Replace('\u0001', '|');
}

/// <summary>
/// The real AWS SQS client, with a gate in front of SendMessageBatch (closed: calls wait until it opens) and
/// a record of every SendMessageBatch call and its outcome.
/// </summary>
internal sealed class RecordingSqsClient(AWSCredentials credentials, AmazonSQSConfig config) : AmazonSQSClient(credentials, config)
{
    private readonly object _gate = new();
    private TaskCompletionSource _open = CompletedSource();
    private int _calls;

    /// <summary>Entries, successful entries and failed entries of each SendMessageBatch call that got an answer.</summary>
    public ConcurrentQueue<(int Entries, int Successful, int Failed)> Answers { get; } = new();

    /// <summary>The body of every message SQS took, as sent.</summary>
    public ConcurrentQueue<string> SentBodies { get; } = new();

    /// <summary>SendMessageBatch calls made (held ones included).</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>When set, GetQueueAttributes fails as it does for a role allowed only to send (403 AccessDenied).</summary>
    public bool DenyGetQueueAttributes { get; set; }

    public override Task<GetQueueAttributesResponse> GetQueueAttributesAsync(GetQueueAttributesRequest request, CancellationToken cancellationToken = default) =>
        DenyGetQueueAttributes
            ? throw new AmazonSQSException(
                "User: arn:aws:sts::000000000000:assumed-role/sender/app is not authorized to perform: sqs:getqueueattributes on resource: " + request.QueueUrl,
                ErrorType.Sender,
                "AccessDenied",
                "00000000-0000-0000-0000-000000000000",
                System.Net.HttpStatusCode.Forbidden)
            : base.GetQueueAttributesAsync(request, cancellationToken);

    public void CloseGate()
    {
        lock (_gate)
        {
            if (_open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void OpenGate()
    {
        lock (_gate)
        {
            _open.TrySetResult();
        }
    }

    public override async Task<SendMessageBatchResponse> SendMessageBatchAsync(SendMessageBatchRequest request, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        Task open;
        lock (_gate)
        {
            open = _open.Task;
        }

        await open.WaitAsync(cancellationToken);
        var response = await base.SendMessageBatchAsync(request, cancellationToken);
        Answers.Enqueue((request.Entries.Count, response.Successful?.Count ?? 0, response.Failed?.Count ?? 0));
        var taken = (response.Successful ?? []).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var entry in request.Entries.Where(e => taken.Contains(e.Id)))
        {
            SentBodies.Enqueue(entry.MessageBody);
        }

        return response;
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }
}
