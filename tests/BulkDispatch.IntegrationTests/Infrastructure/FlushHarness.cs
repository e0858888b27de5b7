using System.Globalization;
using System.Text;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Reporting;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>
/// A queue with its dead-letter queue on the real emulator, a real local Event API, and flush engines
/// wired to them through the same <c>AddBulkDispatchFlush</c> registration every host uses.
/// </summary>
internal sealed class FlushHarness : IAsyncDisposable
{
    /// <summary>Settings that keep tests quick: short long polls and short retry delays.</summary>
    public static readonly IReadOnlyDictionary<string, string?> FastSettings = new Dictionary<string, string?>
    {
        ["BulkDispatch:Flush:ReceiveWaitTime"] = "00:00:01",
        ["BulkDispatch:Flush:MaxDuration"] = "00:01:00",
        ["BulkDispatch:Flush:SendGrace"] = "00:00:30",
        ["BulkDispatch:Optimizely:RetryBaseDelay"] = "00:00:00.050",
        ["BulkDispatch:Optimizely:MaxRetries"] = "2",
        ["BulkDispatch:Optimizely:AttemptTimeout"] = "00:00:05",
    };

    private readonly List<ServiceProvider> _providers = [];

    private FlushHarness(SqsEmulator emulator, LocalEventApi eventApi, IAmazonSQS sqs, string queueUrl, string deadLetterQueueUrl)
    {
        Emulator = emulator;
        EventApi = eventApi;
        Faults = EventApiFaults.InjectInto(eventApi);
        Sqs = sqs;
        QueueUrl = queueUrl;
        DeadLetterQueueUrl = deadLetterQueueUrl;
    }

    public SqsEmulator Emulator { get; }

    /// <summary>What the engines this harness made have logged.</summary>
    public CapturingLoggerFactory Logs { get; } = new();

    public LocalEventApi EventApi { get; }

    /// <summary>How <see cref="EventApi"/> misbehaves: queued faults, then a policy; none means 204.</summary>
    public EventApiFaults Faults { get; }

    public IAmazonSQS Sqs { get; }

    public string QueueUrl { get; }

    public string DeadLetterQueueUrl { get; }

    public static async Task<FlushHarness> CreateAsync(SqsEmulator emulator, int visibilityTimeoutSeconds = 30, int maxReceiveCount = 10)
    {
        var eventApi = await LocalEventApi.StartAsync();
        var sqs = emulator.CreateClient();
        string name = "events-" + Guid.NewGuid().ToString("N")[..10];
        var (queue, dlq) = await emulator.CreateQueueWithDeadLetterQueueAsync(name, visibilityTimeoutSeconds, maxReceiveCount);
        return new FlushHarness(emulator, eventApi, sqs, queue, dlq);
    }

    /// <summary>An engine for this queue and endpoint; <paramref name="settings"/> (config keys with ':') override the fast defaults.</summary>
    /// <param name="settings">Settings (config keys with ':') over the fast defaults.</param>
    /// <param name="time">The clock, when not the system's.</param>
    /// <param name="configure">More registrations, made before <c>AddBulkDispatchFlush</c> (as an application's own would be).</param>
    public FlushEngine CreateEngine(IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? time = null, Action<IServiceCollection>? configure = null)
    {
        var values = new Dictionary<string, string?>(FastSettings)
        {
            ["BulkDispatch:Sqs:QueueUrl"] = QueueUrl,
            ["BulkDispatch:Sqs:ServiceUrl"] = Emulator.ServiceUrl.ToString(),
            ["BulkDispatch:Optimizely:EndpointOverride"] = EventApi.EventsUrl.ToString(),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddKeyedSingleton(FlushServiceCollectionExtensions.SqsServiceKey, Emulator.CreateClient());
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddLogging(logging => logging.AddProvider(Logs));
        configure?.Invoke(services);
        services.AddBulkDispatchFlush(configuration);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<FlushEngine>();
    }

    public Task<FlushReport> FlushAsync(IReadOnlyDictionary<string, string?>? settings = null) => CreateEngine(settings).RunAsync();

    /// <summary>Sends each body as one message (10 per SendMessageBatch).</summary>
    public async Task EnqueueAsync(IEnumerable<string> messageBodies, string? queueUrl = null)
    {
        foreach (var chunk in messageBodies.Chunk(10))
        {
            var response = await Sqs.SendMessageBatchAsync(new SendMessageBatchRequest
            {
                QueueUrl = queueUrl ?? QueueUrl,
                Entries = chunk.Select((b, i) => new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), b)).ToList(),
            });
            Assert.True(response.Failed is null or { Count: 0 }, $"the emulator refused a message: {response.Failed?.FirstOrDefault()?.Message}");
        }
    }

    /// <summary>Wire-format messages holding <paramref name="events"/>, <paramref name="perMessage"/> events each.</summary>
    public static IEnumerable<string> Messages(IEnumerable<QueuedEvent> events, int perMessage) =>
        events.Chunk(perMessage).Select(chunk => WireFormat.Encode(chunk));

    /// <summary>Version-2 messages (Core's <see cref="CompressedMessageWriter"/>) holding <paramref name="events"/>, <paramref name="perMessage"/> events each.</summary>
    public static List<string> CompressedMessages(IEnumerable<QueuedEvent> events, int perMessage)
    {
        using var encoder = new EventEncoder();
        using var writer = new CompressedMessageWriter();
        return events.Chunk(perMessage).Select(chunk => writer.Write([.. chunk.Select(encoder.Encode)])).ToList();
    }

    /// <summary>Receives every message now visible in a queue (makes them invisible for the visibility timeout).</summary>
    public async Task<List<Message>> ReceiveAllAsync(string queueUrl)
    {
        var all = new List<Message>();
        while (true)
        {
            var response = await Sqs.ReceiveMessageAsync(new ReceiveMessageRequest
            {
                QueueUrl = queueUrl,
                MaxNumberOfMessages = 10,
                WaitTimeSeconds = 1,
                MessageAttributeNames = ["All"],
                MessageSystemAttributeNames = ["All"],
            });
            if (response.Messages is not { Count: > 0 } messages)
            {
                return all;
            }

            all.AddRange(messages);
        }
    }

    /// <summary>Visible + in-flight + delayed messages of a queue.</summary>
    public async Task<long> DepthAsync(string queueUrl)
    {
        var a = await Sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = queueUrl,
            AttributeNames = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
        });
        return (long)a.ApproximateNumberOfMessages + a.ApproximateNumberOfMessagesNotVisible + a.ApproximateNumberOfMessagesDelayed;
    }

    /// <summary>Every visitor Optimizely accepted, as raw JSON text, across all accepted requests.</summary>
    public List<string> AcceptedVisitors() => EventApi.AcceptedRequests.SelectMany(r => r.VisitorJson).ToList();

    public static string Reason(Message m) => m.MessageAttributes?.GetValueOrDefault(WireFormat.ReasonAttribute)?.StringValue ?? "";

    public static string Detail(Message m) => m.MessageAttributes?.GetValueOrDefault(WireFormat.DetailAttribute)?.StringValue ?? "";

    public static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    public async ValueTask DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        Sqs.Dispose();
        await EventApi.DisposeAsync();
    }
}
