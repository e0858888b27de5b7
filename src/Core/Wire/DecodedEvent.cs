namespace BulkDispatch.Core.Wire;

/// <summary>An event read back from a queue message; <see cref="Body"/> is a slice of the message's UTF-8 bytes.</summary>
internal sealed record DecodedEvent(
    string Url,
    string HttpVerb,
    IReadOnlyDictionary<string, string> Headers,
    ReadOnlyMemory<byte> Body,
    DateTimeOffset? EnqueuedAt);

/// <summary>The outcome of decoding one queue message: its events, or why it can never be delivered.</summary>
internal sealed record DecodeResult(IReadOnlyList<DecodedEvent> Events, string? FailureReason, string? FailureDetail, bool IsLegacy)
{
    public bool Succeeded => FailureReason is null;

    public static DecodeResult Ok(IReadOnlyList<DecodedEvent> events, bool isLegacy = false) => new(events, null, null, isLegacy);

    public static DecodeResult Fail(string reason, string detail, bool isLegacy = false) => new([], reason, detail, isLegacy);
}
