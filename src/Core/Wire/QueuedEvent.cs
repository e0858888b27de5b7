namespace BulkDispatch.Core.Wire;

/// <summary>
/// One event as the Optimizely SDK handed it to the dispatcher (a <c>LogEvent</c>): where it was
/// going, how, with which headers, and the JSON body exactly as the SDK produced it.
/// </summary>
/// <param name="Url">The Event API URL the SDK would have posted to.</param>
/// <param name="HttpVerb">The HTTP verb the SDK would have used (always <c>POST</c> today).</param>
/// <param name="Headers">The request headers the SDK set (normally only Content-Type).</param>
/// <param name="Body">The EventBatch JSON text, unchanged.</param>
/// <param name="EnqueuedAt">When the dispatcher accepted the event.</param>
public sealed record QueuedEvent(
    string Url,
    string HttpVerb,
    IReadOnlyDictionary<string, string> Headers,
    string Body,
    DateTimeOffset EnqueuedAt);
