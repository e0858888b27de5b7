using System.Globalization;
using System.Text.Json;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.Sandbox;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>Helpers for the <c>stats</c> and <c>redrive</c> command tests.</summary>
internal static class QueueCommandSupport
{
    /// <summary>A URL outside the default allow-list: the flush dead-letters events sent to it as <c>endpoint-not-allowed</c>.</summary>
    public const string EvilUrl = "https://evil.example/v1/events";

    private static readonly Dictionary<string, string> JsonHeaders = new() { ["Content-Type"] = "application/json" };

    /// <summary>Runs <c>bulkdispatch COMMAND ARGS</c> against the harness's queue (settings passed with <c>--set</c>).</summary>
    public static Task<CliResult> RunAsync(FlushHarness h, string workingDirectory, string command, params string[] args) =>
        CliProcess.RunAsync(workingDirectory, [command, .. SettingsArgs(h), .. args]);

    public static string[] SettingsArgs(FlushHarness h) =>
    [
        "--set", $"BulkDispatch__Sqs__QueueUrl={h.QueueUrl}",
        "--set", $"BulkDispatch__Sqs__ServiceUrl={h.Emulator.ServiceUrl}",
    ];

    /// <summary><paramref name="count"/> messages in wire-format version 3, which the flush dead-letters as <c>unknown-version</c>.</summary>
    public static List<string> UnknownVersionMessages(int count, string tag) =>
        Enumerable.Range(0, count).Select(i => $$"""{"format":"bulkdispatch","version":3,"events":[],"tag":"{{tag}}-{{i}}"}""").ToList();

    /// <summary><paramref name="count"/> single-event messages for <see cref="EvilUrl"/>, which the flush dead-letters as <c>endpoint-not-allowed</c>; with their events.</summary>
    public static (List<string> Messages, List<QueuedEvent> Events) EvilMessages(int count, int seed)
    {
        var events = DemoEvents.GenerateEvents(count, seed).Take(count)
            .Select(e => new QueuedEvent(EvilUrl, "POST", JsonHeaders, e.Body, e.EnqueuedAt))
            .ToList();
        Assert.Equal(count, events.Count);
        return (events.Select(e => WireFormat.Encode([e])).ToList(), events);
    }

    /// <summary>Sends messages straight to the dead-letter queue with a reason (none when null) and optional extra attributes.</summary>
    public static async Task<List<string>> DeadLetterDirectlyAsync(FlushHarness h, string? reason, int count, string tag, Dictionary<string, string>? extra = null, int padding = 0)
    {
        string pad = new('x', padding);
        var bodies = Enumerable.Range(0, count).Select(i => $$"""{"format":"bulkdispatch","version":9,"events":[],"tag":"{{tag}}-{{i}}","pad":"{{pad}}"}""").ToList();
        foreach (var chunk in bodies.Chunk(10))
        {
            var response = await h.Sqs.SendMessageBatchAsync(new SendMessageBatchRequest
            {
                QueueUrl = h.DeadLetterQueueUrl,
                Entries = chunk.Select((b, i) =>
                {
                    var attributes = new Dictionary<string, MessageAttributeValue>(StringComparer.Ordinal);
                    if (reason is not null)
                    {
                        attributes[WireFormat.ReasonAttribute] = new() { DataType = "String", StringValue = reason };
                        attributes[WireFormat.DetailAttribute] = new() { DataType = "String", StringValue = "dead-lettered by the test" };
                    }

                    foreach (var (name, value) in extra ?? [])
                    {
                        attributes[name] = new() { DataType = "String", StringValue = value };
                    }

                    return new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), b) { MessageAttributes = attributes.Count > 0 ? attributes : null };
                }).ToList(),
            });
            Assert.True(response.Failed is null or { Count: 0 }, $"the emulator refused a message: {response.Failed?.FirstOrDefault()?.Message}");
        }

        return bodies;
    }

    /// <summary>Every message now visible in a queue, made visible again at once (so the next look sees them too).</summary>
    public static async Task<List<Message>> PeekAsync(FlushHarness h, string queueUrl)
    {
        var messages = await h.ReceiveAllAsync(queueUrl);
        foreach (var chunk in messages.Chunk(10))
        {
            var response = await h.Sqs.ChangeMessageVisibilityBatchAsync(new ChangeMessageVisibilityBatchRequest
            {
                QueueUrl = queueUrl,
                Entries = chunk.Select((m, i) => new ChangeMessageVisibilityBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.ReceiptHandle) { VisibilityTimeout = 0 }).ToList(),
            });
            Assert.True(response.Failed is null or { Count: 0 }, $"could not make a peeked message visible again: {response.Failed?.FirstOrDefault()?.Message}");
        }

        return messages;
    }

    /// <summary>Receives exactly <paramref name="count"/> messages and keeps them in flight (the queue's visibility timeout).</summary>
    public static async Task<List<Message>> HoldAsync(FlushHarness h, string queueUrl, int count)
    {
        var held = new List<Message>();
        while (held.Count < count)
        {
            var response = await h.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queueUrl, MaxNumberOfMessages = Math.Min(10, count - held.Count), WaitTimeSeconds = 1 });
            Assert.True(response.Messages is { Count: > 0 }, $"only {held.Count} of {count} messages could be received");
            held.AddRange(response.Messages);
        }

        return held;
    }

    public static async Task<string> ArnAsync(FlushHarness h, string queueUrl) =>
        (await h.Sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = ["QueueArn"] })).QueueARN;

    /// <summary>A JSON object's number properties as a sorted dictionary (reason counts).</summary>
    public static SortedDictionary<string, long> Counts(JsonElement obj) =>
        new(obj.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()), StringComparer.Ordinal);

    public static SortedDictionary<string, long> Counts(params (string Reason, long Count)[] counts) =>
        new(counts.ToDictionary(c => c.Reason, c => c.Count), StringComparer.Ordinal);

    public static List<string> Bodies(IEnumerable<Message> messages) => WireInspection.Sorted(messages.Select(m => m.Body));
}
