using System.Globalization;
using System.Text.Json;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;

using static BulkDispatch.IntegrationTests.Infrastructure.WireInspection;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>Helpers shared by the fault-injection tests (transient failures, rejections, crashes).</summary>
internal static class FaultTestHelpers
{
    /// <summary>The top-level properties of an EventBatch but <c>visitors</c>, name → raw JSON text, sorted by name.</summary>
    public static List<KeyValuePair<string, string>> HeaderFields(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.EnumerateObject()
            .Where(p => p.Name != "visitors")
            .Select(p => new KeyValuePair<string, string>(p.Name, p.Value.GetRawText()))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The bodies of every message now visible in a queue, which are made visible again at once, so
    /// looking does not hide them from the next run (each look counts as one receive).
    /// </summary>
    public static async Task<List<string>> PeekAllAsync(FlushHarness h, string queueUrl)
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

        return Sorted(messages.Select(m => m.Body));
    }

    /// <summary>
    /// Waits out the visibility timeout of messages a run left behind, then returns the bodies of all
    /// <paramref name="expected"/> messages (made visible again at once), or fails after <paramref name="timeout"/>.
    /// </summary>
    /// <remarks>
    /// fauxqs puts expired in-flight messages back only when the queue is received from (its
    /// ApproximateNumberOfMessages stays stale until then), so this looks by receiving.
    /// </remarks>
    public static async Task<List<string>> WaitUntilAllBackAsync(FlushHarness h, string queueUrl, int expected, TimeSpan visibilityTimeout, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        await Task.Delay(visibilityTimeout);
        while (true)
        {
            var bodies = await PeekAllAsync(h, queueUrl);
            if (bodies.Count >= expected)
            {
                return bodies;
            }

            Assert.True(DateTime.UtcNow < deadline, $"only {bodies.Count} of {expected} messages came back within {timeout.TotalSeconds:0} s");
            await Task.Delay(500);
        }
    }

    /// <summary>Changes a queue's visibility timeout (for the next receives).</summary>
    public static Task SetVisibilityTimeoutAsync(FlushHarness h, string queueUrl, int seconds) =>
        h.Sqs.SetQueueAttributesAsync(new SetQueueAttributesRequest
        {
            QueueUrl = queueUrl,
            Attributes = new Dictionary<string, string> { ["VisibilityTimeout"] = seconds.ToString(CultureInfo.InvariantCulture) },
        });
}
