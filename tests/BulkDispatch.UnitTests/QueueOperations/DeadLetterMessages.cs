using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.UnitTests.QueueOperations;

/// <summary>Dead-lettered messages as a receive returns them, for the redrive's pure parts.</summary>
internal static class DeadLetterMessages
{
    /// <summary>A message with id <paramref name="id"/> and the reason attribute (none when null).</summary>
    public static Message Dead(string id, string? reason) => new()
    {
        MessageId = id,
        ReceiptHandle = "receipt-" + id,
        Body = "body-" + id,
        MessageAttributes = reason is null ? null : new Dictionary<string, MessageAttributeValue>
        {
            [WireFormat.ReasonAttribute] = new() { DataType = "String", StringValue = reason },
        },
    };
}
