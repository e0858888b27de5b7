using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using BulkDispatch.IntegrationTests.Infrastructure;

namespace BulkDispatch.IntegrationTests.Gateway;

/// <summary>The SQS gateway against the real emulator through the real AWS SDK client: what the flush, the producer and the queue commands rely on.</summary>
public sealed class SqsGatewayEmulatorTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    private static string Name(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task Describe_finds_the_queue_by_name_reads_its_attributes_and_follows_the_redrive_policy()
    {
        using var sqs = fixture.Emulator.CreateClient();
        string name = Name("describe");
        var (queueUrl, dlqUrl) = await fixture.Emulator.CreateQueueWithDeadLetterQueueAsync(name, visibilityTimeoutSeconds: 45, maxReceiveCount: 7);
        await sqs.SetQueueAttributesAsync(queueUrl, new Dictionary<string, string> { ["MaximumMessageSize"] = "262144" });
        var gateway = new SqsGateway(sqs);

        var byName = await gateway.DescribeQueueAsync(new SqsOptions { QueueName = name });
        var bySetting = await gateway.DescribeQueueAsync(new SqsOptions { QueueUrl = queueUrl, DeadLetterQueueUrl = queueUrl + "-elsewhere" });

        Assert.Equal((queueUrl, dlqUrl, false, 45, 262144), (byName.QueueUrl, byName.DeadLetterQueueUrl, byName.DeadLetterQueueFromSetting, byName.VisibilityTimeoutSeconds, byName.MaxMessageBytes));
        Assert.Equal(7, byName.RedrivePolicy!.MaxReceiveCount);
        Assert.Equal(name + "-dlq", byName.RedrivePolicy.DeadLetterTarget()!.Name);
        Assert.Equal((queueUrl + "-elsewhere", true), (bySetting.DeadLetterQueueUrl, bySetting.DeadLetterQueueFromSetting));
    }

    [Fact]
    public async Task A_queue_without_redrive_policy_has_no_dead_letter_queue_and_a_missing_queue_is_fatal()
    {
        using var sqs = fixture.Emulator.CreateClient();
        string queueUrl = await fixture.Emulator.CreateQueueAsync(Name("plain"));
        var gateway = new SqsGateway(sqs);

        var plain = await gateway.DescribeQueueAsync(new SqsOptions { QueueUrl = queueUrl });
        var missing = await Assert.ThrowsAsync<SqsRequestFailedException>(() => gateway.DescribeQueueAsync(new SqsOptions { QueueName = Name("no-such-queue") }, SqsRetryPolicy.Attempts(3)));

        Assert.Null(plain.DeadLetterQueueUrl);
        Assert.Null(plain.RedrivePolicy);
        Assert.Equal(SqsFailureKind.Fatal, missing.Kind);
        Assert.Equal("GetQueueUrl", missing.Operation);
    }

    [Fact]
    public async Task Send_receive_release_and_delete_in_batches_of_any_size()
    {
        using var sqs = fixture.Emulator.CreateClient();
        string queueUrl = await fixture.Emulator.CreateQueueAsync(Name("batches"), visibilityTimeoutSeconds: 60);
        var gateway = new SqsGateway(sqs);
        var reason = new Dictionary<string, MessageAttributeValue> { [WireFormat.ReasonAttribute] = new() { DataType = "String", StringValue = "undecodable" } };
        var messages = Enumerable.Range(0, 23).Select(i => new SqsOutgoingMessage("body-" + i, i == 0 ? reason : null)).ToList();

        var sent = await gateway.SendBatchAsync(queueUrl, messages);
        var depth = await gateway.GetDepthAsync(queueUrl);
        var received = await ReceiveAllAsync(gateway, queueUrl);
        var released = await gateway.ChangeVisibilityBatchAsync(queueUrl, received.Select(m => m.ReceiptHandle).ToList(), 0);
        var again = await ReceiveAllAsync(gateway, queueUrl);
        var deleted = await gateway.DeleteBatchAsync(queueUrl, again.Select(m => m.ReceiptHandle).ToList());

        Assert.True(sent.AllSucceeded);
        Assert.Equal(3, sent.Requests);
        Assert.Equal(new SqsQueueDepth(23, 0, 0), depth);
        Assert.Equal(messages.Select(m => m.Body).Order(StringComparer.Ordinal), received.Select(m => m.Body).Order(StringComparer.Ordinal));
        Assert.Equal("undecodable", received.Single(m => m.Body == "body-0").MessageAttributes[WireFormat.ReasonAttribute].StringValue);
        Assert.All(received, m => Assert.Equal("1", m.Attributes["ApproximateReceiveCount"]));
        Assert.True(released.AllSucceeded);
        Assert.Equal(23, again.Count); // visible again at once, not after the 60 s timeout
        Assert.All(again, m => Assert.Equal("2", m.Attributes["ApproximateReceiveCount"]));
        Assert.Equal((23, 3), (deleted.Succeeded, deleted.Requests));
        Assert.Equal(0, (await gateway.GetDepthAsync(queueUrl)).Total);
    }

    [Fact]
    public async Task A_message_the_queue_cannot_take_fails_alone_and_the_rest_of_the_batch_goes()
    {
        using var sqs = fixture.Emulator.CreateClient();
        string queueUrl = await fixture.Emulator.CreateQueueAsync(Name("too-large"));
        var gateway = new SqsGateway(sqs);
        var messages = new List<SqsOutgoingMessage> { new("first"), new(new string('x', 300 * 1024)), new("third") };

        var result = await gateway.SendBatchAsync(queueUrl, messages, maxMessageBytes: 256 * 1024);

        Assert.Equal([true, false, true], result.Outcomes.Select(o => o.Succeeded));
        Assert.Equal(SqsFailureKind.SenderFault, result.Outcomes[1].Failure);
        Assert.Equal(2, (await gateway.GetDepthAsync(queueUrl)).Visible);
    }

    [Fact]
    public async Task An_entry_sqs_refuses_is_the_senders_fault_and_the_rest_of_the_batch_goes()
    {
        using var sqs = fixture.Emulator.CreateClient();
        string queueUrl = await fixture.Emulator.CreateQueueAsync(Name("refused"));
        await sqs.SetQueueAttributesAsync(queueUrl, new Dictionary<string, string> { ["MaximumMessageSize"] = "1024" });
        var gateway = new SqsGateway(sqs);
        var messages = new List<SqsOutgoingMessage> { new("first"), new(new string('x', 2000)), new("bad \u0001 character"), new("fourth") };

        // The gateway does not know this queue's limit: SQS itself judges each entry.
        var result = await gateway.SendBatchAsync(queueUrl, messages);

        Assert.Equal([true, false, false, true], result.Outcomes.Select(o => o.Succeeded));
        Assert.All(result.Outcomes.Where(o => !o.Succeeded), o => Assert.Equal(SqsFailureKind.SenderFault, o.Failure));
        Assert.Equal(2, (await gateway.GetDepthAsync(queueUrl)).Visible);
    }

    [Fact]
    public async Task A_receive_from_an_empty_queue_waits_its_long_poll_and_returns_nothing()
    {
        using var sqs = fixture.Emulator.CreateClient();
        string queueUrl = await fixture.Emulator.CreateQueueAsync(Name("empty"));

        var messages = await new SqsGateway(sqs).ReceiveAsync(new SqsReceiveRequest(queueUrl) { WaitTime = TimeSpan.FromSeconds(1) });

        Assert.Empty(messages);
    }

    private static async Task<List<Message>> ReceiveAllAsync(SqsGateway gateway, string queueUrl)
    {
        var all = new List<Message>();
        while (await gateway.ReceiveAsync(new SqsReceiveRequest(queueUrl) { MessageAttributeNames = ["All"], SystemAttributeNames = ["ApproximateReceiveCount"] }) is { Count: > 0 } batch)
        {
            all.AddRange(batch);
        }

        return all;
    }
}
