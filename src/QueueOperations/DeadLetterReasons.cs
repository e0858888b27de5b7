using Amazon.SQS.Model;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.QueueOperations;

/// <summary>The reason codes of dead-lettered messages as the queue operations count and select them.</summary>
public static class DeadLetterReasons
{
    /// <summary>The reason of a dead-lettered message without a <c>BulkDispatch.Reason</c> attribute: SQS moved it after maxReceiveCount receives.</summary>
    public const string NoReason = "none";

    /// <summary>The codes this version of the flush writes (<see cref="DeadLetterReason"/>), and <see cref="NoReason"/>.</summary>
    public static IReadOnlyList<string> Known { get; } =
    [
        DeadLetterReason.Undecodable, DeadLetterReason.UnknownVersion, DeadLetterReason.EndpointNotAllowed, DeadLetterReason.InvalidEvent,
        DeadLetterReason.VisitorTooLarge, DeadLetterReason.RejectedByOptimizely, DeadLetterReason.LegacySettingsMissing, NoReason,
    ];

    /// <summary>The reason code of <paramref name="message"/> (its <c>BulkDispatch.Reason</c> attribute), or <see cref="NoReason"/>.</summary>
    /// <param name="message">A message received with its message attributes.</param>
    public static string Of(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.MessageAttributes?.GetValueOrDefault(WireFormat.ReasonAttribute)?.StringValue is { Length: > 0 } reason ? reason : NoReason;
    }
}
