using System.Globalization;
using Amazon.SQS;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Sandbox;
using BulkDispatch.TestKit;

namespace BulkDispatch.FunctionTests.Host;

/// <summary>The real SQS emulator, one per test class; each test makes its own queues.</summary>
public sealed class QueueFixture : IAsyncLifetime
{
    internal SqsEmulator Emulator { get; private set; } = null!;

    internal IAmazonSQS Sqs { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Emulator = await TestEmulators.StartAsync();
        Sqs = Emulator.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Sqs?.Dispose();
        if (Emulator is not null)
        {
            await Emulator.DisposeAsync();
        }
    }

    internal Task<(string QueueUrl, string DeadLetterQueueUrl)> CreateQueuesAsync() =>
        Emulator.CreateQueueWithDeadLetterQueueAsync("events-" + Guid.NewGuid().ToString("N")[..10]);

    /// <summary>Writes the events as the producer does: wire-format messages of several events, ten per SendMessageBatch.</summary>
    internal async Task EnqueueAsync(string queueUrl, IEnumerable<QueuedEvent> events)
    {
        foreach (var chunk in DemoEvents.ToMessages(events).Chunk(10))
        {
            var response = await Sqs.SendMessageBatchAsync(new SendMessageBatchRequest
            {
                QueueUrl = queueUrl,
                Entries = [.. chunk.Select((body, i) => new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), body))],
            });
            Assert.True(response.Failed is null or { Count: 0 }, $"the emulator refused a message: {response.Failed?.FirstOrDefault()?.Message}");
        }
    }

    /// <summary>Messages visible and in flight.</summary>
    internal async Task<(int Visible, int InFlight)> CountAsync(string queueUrl)
    {
        var attributes = await Sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = queueUrl,
            AttributeNames = [QueueAttributeName.ApproximateNumberOfMessages, QueueAttributeName.ApproximateNumberOfMessagesNotVisible],
        });
        return (attributes.ApproximateNumberOfMessages, attributes.ApproximateNumberOfMessagesNotVisible);
    }
}
