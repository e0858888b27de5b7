using System.Text;
using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// A dead-letter copy always fits: a message at SQS's 1 MiB limit that can never be delivered leaves the main queue for
/// the dead-letter queue (without the attributes that no longer fit, its reason logged instead), and a dead-letter queue
/// too small for a copy is reported as the dead-letter failure it is.
/// </summary>
public sealed class DeadLetterSizeTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private const int OneMiB = 1024 * 1024;
    private static readonly Dictionary<string, string> JsonHeaders = new() { ["Content-Type"] = "application/json" };

    [Fact]
    public async Task An_undecodable_message_of_exactly_1_MiB_is_dead_lettered_whole_and_leaves_the_main_queue()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string body = Pad("this is not JSON {", OneMiB);
        await h.EnqueueAsync([body]);

        var report = await h.FlushAsync();

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(1, report.DeadLettered[DeadLetterReason.Undecodable]);
        Assert.Equal(0, report.TransientFailures);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        var copy = Assert.Single(await h.ReceiveAllAsync(h.DeadLetterQueueUrl));
        Assert.Equal(body, copy.Body);
        Assert.Empty(copy.MessageAttributes ?? []); // no room left: the reason went to the log
        Assert.Contains(h.Logs.Warnings, l => l.Contains(DeadLetterReason.Undecodable, StringComparison.Ordinal) && l.Contains("without its attributes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_1_MiB_message_whose_event_has_a_disallowed_url_is_dead_lettered_and_leaves_the_main_queue()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string message = WireMessageOf(OneMiB, "https://evil.example/v1/events");
        await h.EnqueueAsync([message]);

        var report = await h.FlushAsync();

        Assert.True(report.Complete, report.ToText());
        Assert.Equal(1, report.DeadLettered[DeadLetterReason.EndpointNotAllowed]);
        Assert.Equal(0, await h.DepthAsync(h.QueueUrl));
        var copy = Assert.Single(await h.ReceiveAllAsync(h.DeadLetterQueueUrl));
        Assert.Equal("https://evil.example/v1/events", WireInspection.SingleEvent(copy).Url);
        Assert.True(Encoding.UTF8.GetByteCount(copy.Body) + AttributeBytes(copy) <= OneMiB);
    }

    [Fact]
    public async Task A_dead_letter_queue_too_small_for_a_copy_is_reported_by_name_and_the_message_stays()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator);
        string smallDlq = (await h.Sqs.CreateQueueAsync(new CreateQueueRequest
        {
            QueueName = "small-dlq-" + Guid.NewGuid().ToString("N")[..8],
            Attributes = new Dictionary<string, string> { ["MaximumMessageSize"] = "65536" },
        })).QueueUrl;
        await h.EnqueueAsync([Pad("not JSON either ", 100_000)]);

        var report = await h.FlushAsync(new Dictionary<string, string?> { ["BulkDispatch:Sqs:DeadLetterQueueUrl"] = smallDlq });

        Assert.False(report.Complete);
        Assert.True(report.TransientFailures >= 1, report.ToText());
        Assert.Contains("MaximumMessageSize", report.LastFailure, StringComparison.Ordinal);
        Assert.Contains("65536", report.LastFailure, StringComparison.Ordinal);
        Assert.Contains(smallDlq[(smallDlq.LastIndexOf('/') + 1)..], report.LastFailure, StringComparison.Ordinal);
        Assert.Equal(1, await h.DepthAsync(h.QueueUrl)); // not lost: back after its visibility timeout
        Assert.Empty(await h.ReceiveAllAsync(smallDlq));
    }

    private static string Pad(string start, int bytes) => start + new string('x', bytes - Encoding.UTF8.GetByteCount(start));

    /// <summary>A version-1 message of exactly <paramref name="bytes"/> bytes holding one event for <paramref name="url"/>.</summary>
    private static string WireMessageOf(int bytes, string url)
    {
        string Encode(int pad) => WireFormat.Encode([new QueuedEvent(url, "POST", JsonHeaders,
            "{\"account_id\":\"12345\",\"visitors\":[],\"pad\":\"" + new string('x', pad) + "\"}", DateTimeOffset.UnixEpoch)]);

        int pad = bytes - Encoding.UTF8.GetByteCount(Encode(0));
        string message = Encode(pad);
        Assert.Equal(bytes, Encoding.UTF8.GetByteCount(message));
        return message;
    }

    private static int AttributeBytes(Message m) =>
        (m.MessageAttributes ?? []).Sum(a => Encoding.UTF8.GetByteCount(a.Key) + Encoding.UTF8.GetByteCount(a.Value.DataType) + Encoding.UTF8.GetByteCount(a.Value.StringValue ?? ""));
}
