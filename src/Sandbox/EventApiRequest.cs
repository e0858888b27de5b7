namespace BulkDispatch.Sandbox;

/// <summary>One request <see cref="LocalEventApi"/> received, as a fault policy and the tests see it.</summary>
public sealed class EventApiRequest
{
    /// <summary>The status recorded when no answer was sent (dropped connection, or the client gave up).</summary>
    public const int NoAnswer = -1;

    private int _status;

    internal EventApiRequest(
        int sequence,
        DateTimeOffset receivedAt,
        string path,
        IReadOnlyDictionary<string, string> headers,
        byte[] body,
        IReadOnlyList<string> visitorJson,
        IReadOnlyList<string> visitorIds,
        string headerJson,
        string? schemaError)
    {
        Sequence = sequence;
        ReceivedAt = receivedAt;
        Path = path;
        Headers = headers;
        Body = body;
        VisitorJson = visitorJson;
        VisitorIds = visitorIds;
        HeaderJson = headerJson;
        SchemaError = schemaError;
    }

    /// <summary>1 for the first request since start or the last <see cref="LocalEventApi.Reset"/>.</summary>
    public int Sequence { get; }

    /// <summary>When the body had been read.</summary>
    public DateTimeOffset ReceivedAt { get; }

    /// <summary>The request path, e.g. <c>/v1/events</c>.</summary>
    public string Path { get; }

    /// <summary>The request's query string with its <c>?</c>, or empty (the Event API is called without one).</summary>
    public string Query { get; init; } = string.Empty;

    /// <summary>Every request header (names case-insensitive; repeated values joined with commas).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The exact bytes received.</summary>
#pragma warning disable CA1819 // The exact bytes are the point; tests compare them.
    public byte[] Body { get; }
#pragma warning restore CA1819

    /// <summary>The raw JSON text of each element of <c>visitors</c>, exactly as it appears in the body.</summary>
    public IReadOnlyList<string> VisitorJson { get; }

    /// <summary>Each visitor's <c>visitor_id</c> (empty string when it has none).</summary>
    public IReadOnlyList<string> VisitorIds { get; }

    /// <summary>
    /// The top-level properties other than <c>visitors</c>, canonically: <c>{"name":raw,...}</c> sorted
    /// by name, so that equal strings mean the same batch header.
    /// </summary>
    public string HeaderJson { get; }

    /// <summary>Why the body was rejected (not JSON or not an EventBatch), or <see langword="null"/>.</summary>
    public string? SchemaError { get; }

    /// <summary>
    /// The status answered: 0 while the request is still being handled, <see cref="NoAnswer"/> if none
    /// was sent. Set just before the answer goes out, so a client that has its answer sees it set.
    /// </summary>
    public int Status
    {
        get => Volatile.Read(ref _status);
        internal set => Volatile.Write(ref _status, value);
    }

    /// <summary>How many visitors the body holds (also when the request is not retained).</summary>
    public int VisitorCount { get; init; }

    /// <summary>The body's length in bytes (also when <see cref="Body"/> is not retained).</summary>
    public int BodyLength { get; init; }

    /// <summary>The event uuids of the body, only when the API runs without retaining requests.</summary>
    internal IReadOnlyList<Guid>? Uuids { get; init; }

    /// <summary>Whether the request was answered with a 2xx status.</summary>
    public bool Accepted => Status is >= 200 and < 300;

    /// <inheritdoc />
    public override string ToString() =>
        $"#{Sequence} {Path} -> {Status} ({VisitorIds.Count} visitors, {Body.Length} bytes)"
        + (SchemaError is null ? string.Empty : " schema error: " + SchemaError);
}
