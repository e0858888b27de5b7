using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.SQS;
using BulkDispatch.Core.Wire;
using BulkDispatch.Sandbox;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.Producer.Benchmarks;

/// <summary>The events both benchmarks publish, and the publisher whose pump never takes anything out of the buffer.</summary>
internal static class Workload
{
    /// <summary>An endpoint nothing listens on: connections are refused at once, so the pump retries and never reads the buffer.</summary>
    public const string UnreachableServiceUrl = "http://127.0.0.1:9";

    /// <summary>Realistic SDK events (DemoEvents: 1 to 10 visitors each, seeded), in generation order.</summary>
    public static QueuedEvent[] Mix(int count) => [.. DemoEvents.GenerateEvents(count)];

    /// <summary>Up to <paramref name="count"/> distinct generated events holding exactly <paramref name="visitors"/> visitors.</summary>
    public static QueuedEvent[] WithVisitors(int visitors, int count) =>
        [.. DemoEvents.GenerateEvents(20 * count).Where(e => VisitorCount(e) == visitors).Take(count)];

    public static int VisitorCount(QueuedEvent e)
    {
        using var document = JsonDocument.Parse(e.Body);
        return document.RootElement.GetProperty("visitors").GetArrayLength();
    }

    public static double AverageBodyBytes(IReadOnlyCollection<QueuedEvent> events) =>
        events.Average(e => (double)Encoding.UTF8.GetByteCount(e.Body));

    /// <summary>A client for <see cref="UnreachableServiceUrl"/> with fixed credentials (no credential chain lookups).</summary>
    public static AmazonSQSClient UnreachableClient() => new(
        new BasicAWSCredentials("bench", "bench"),
        new AmazonSQSConfig { ServiceURL = UnreachableServiceUrl, AuthenticationRegion = "us-west-2", MaxErrorRetry = 0 });

    /// <summary>
    /// A publisher that only ever enqueues: its pump is stuck resolving the unreachable queue's
    /// MaximumMessageSize (retrying with back-off), and the buffer is large enough never to fill,
    /// so every TryPublish takes the accept path and nothing else runs on the CPU meanwhile.
    /// Disposal drops the buffer at once (DisposeTimeout zero).
    /// </summary>
    public static SqsEventPublisher IsolatedPublisher(IAmazonSQS unreachableClient) => new(
        new ProducerOptions
        {
            Sqs = { QueueUrl = UnreachableServiceUrl + "/000000000000/unreachable", ServiceUrl = UnreachableServiceUrl },
            BufferCapacity = 10_000_000,
            BufferBytes = 1L << 40,
            DisposeTimeout = TimeSpan.Zero,
        },
        unreachableClient,
        NullLoggerFactory.Instance);
}
