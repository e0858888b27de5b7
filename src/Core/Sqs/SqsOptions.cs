namespace BulkDispatch.Core.Sqs;

/// <summary>
/// Where the event queue is: the <c>BulkDispatch__Sqs__*</c> settings, shared by the producer and the flush.
/// </summary>
public sealed class SqsOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "BulkDispatch:Sqs";

    /// <summary>The queue URL; when empty, <see cref="QueueName"/> in <see cref="Region"/> is looked up.</summary>
    public string? QueueUrl { get; set; }

    /// <summary>The queue name, used when <see cref="QueueUrl"/> is empty.</summary>
    public string QueueName { get; set; } = "event-queue";

    /// <summary>The AWS region of the queue.</summary>
    public string Region { get; set; } = "us-west-2";

    /// <summary>An endpoint override for SQS (emulators, VPC endpoints).</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>Where permanent failures go; by default the queue's RedrivePolicy target.</summary>
    public string? DeadLetterQueueUrl { get; set; }
}
