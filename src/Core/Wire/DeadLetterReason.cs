namespace BulkDispatch.Core.Wire;

/// <summary>
/// Why a message or an event can never be delivered. The code travels with the dead-lettered
/// message as the <see cref="WireFormat.ReasonAttribute"/> message attribute, so operators can
/// count and redrive by reason.
/// </summary>
public static class DeadLetterReason
{
    /// <summary>
    /// The message is not JSON, neither the BulkDispatch format nor a legacy message, or malformed: a field
    /// given twice (readers differ on which counts), a <c>version</c> that is missing or not a number.
    /// </summary>
    public const string Undecodable = "undecodable";

    /// <summary>The message is in a BulkDispatch wire-format version this reader does not know.</summary>
    public const string UnknownVersion = "unknown-version";

    /// <summary>The event names a URL outside the allow-list of Event API endpoints.</summary>
    public const string EndpointNotAllowed = "endpoint-not-allowed";

    /// <summary>
    /// The event's body (in <c>body</c> or <c>bodyText</c> alike) is not an EventBatch object with one <c>visitors</c>
    /// array and no top-level property given twice, or its verb is not POST.
    /// </summary>
    public const string InvalidEvent = "invalid-event";

    /// <summary>One visitor alone makes a request larger than the configured cap.</summary>
    public const string VisitorTooLarge = "visitor-too-large";

    /// <summary>Optimizely answered 400 for a request holding only this visitor.</summary>
    public const string RejectedByOptimizely = "rejected-by-optimizely";

    /// <summary>A legacy message arrived but the legacy header settings are not configured.</summary>
    public const string LegacySettingsMissing = "legacy-settings-missing";
}
