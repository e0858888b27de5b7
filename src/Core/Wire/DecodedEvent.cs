using System.Buffers;
using BulkDispatch.Core.Events;

namespace BulkDispatch.Core.Wire;

/// <summary>
/// An event read back from a queue message; <see cref="Body"/> is a slice of the message's UTF-8 bytes (version 1),
/// of the decompressed payload (version 2), or its own copy (a body carried as <c>bodyText</c>).
/// </summary>
internal sealed record DecodedEvent(
    string Url,
    string HttpVerb,
    IReadOnlyDictionary<string, string> Headers,
    ReadOnlyMemory<byte> Body,
    DateTimeOffset? EnqueuedAt)
{
    /// <summary>The body's EventBatch parts, when the decoder split it as it read the message.</summary>
    public EventBatchParts? Parts { get; init; }

    /// <summary>Why the body the decoder split is not an EventBatch; null when it is, or was not split.</summary>
    public string? BodyProblem { get; init; }

    /// <summary>The body's EventBatch parts (split now unless the decoder did); false with a reason when it is not one.</summary>
    public bool TryGetParts(out EventBatchParts? parts, out string? error)
    {
        if (Parts is not null || BodyProblem is not null)
        {
            (parts, error) = (Parts, BodyProblem);
            return Parts is not null;
        }

        return EventBatchParts.TryRead(Body, out parts, out error);
    }
}

/// <summary>The outcome of decoding one queue message: its events, or why it can never be delivered.</summary>
internal sealed record DecodeResult(IReadOnlyList<DecodedEvent> Events, string? FailureReason, string? FailureDetail, bool IsLegacy)
{
    public bool Succeeded => FailureReason is null;

    /// <summary>
    /// The decompressed payload of a version-2 message, which the events' bodies are slices of: the caller disposes
    /// it once no event is in use any more. Null for every other message and for every failure (the decoder gave the
    /// buffer back itself). When it is set, no event refers to the message's own bytes: the caller may release them
    /// as soon as the decoder returns.
    /// </summary>
    public IMemoryOwner<byte>? Payload { get; init; }

    public static DecodeResult Ok(IReadOnlyList<DecodedEvent> events, bool isLegacy = false) => new(events, null, null, isLegacy);

    public static DecodeResult Fail(string reason, string detail, bool isLegacy = false) => new([], reason, detail, isLegacy);
}
