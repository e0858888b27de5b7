using System.Text.Json.Serialization;

namespace BulkDispatch.QueueOperations.Statistics;

/// <summary>The queue and its dead-letter queue, as <see cref="QueueInspector.InspectAsync"/> found them.</summary>
/// <param name="Queue">The queue the flush reads.</param>
/// <param name="DeadLetterQueue">Its dead-letter queue, with the reasons counted; null when there is none.</param>
/// <param name="DeadLetterQueueSource">Where the dead-letter queue came from; null when there is none.</param>
public sealed record QueueOverview(QueueStatistics Queue, QueueStatistics? DeadLetterQueue, DeadLetterQueueSource? DeadLetterQueueSource);

/// <summary>Where the dead-letter queue came from.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeadLetterQueueSource>))]
public enum DeadLetterQueueSource
{
    /// <summary>The <c>BulkDispatch__Sqs__DeadLetterQueueUrl</c> setting.</summary>
    [JsonStringEnumMemberName("setting")]
    Setting,

    /// <summary>The target of the queue's RedrivePolicy.</summary>
    [JsonStringEnumMemberName("redrivePolicy")]
    RedrivePolicy,
}
