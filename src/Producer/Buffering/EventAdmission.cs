using System.Text;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Producer.Buffering;

/// <summary>
/// Decides on the caller's thread whether an event may be buffered: it needs a URL and a body, and must pass a cheap
/// size check (body bytes, URL and envelope against the largest message the queue takes; the pump checks the exact
/// encoded size). Makes the buffered copy of an admitted event. No I/O, no parsing; bad input is a refusal, not an exception.
/// </summary>
internal sealed class EventAdmission(TimeProvider time, int maxMessageBytes)
{
    // Room for what the size check leaves out: the verb, the timestamp and the JSON punctuation around them.
    private const int FieldAllowance = 64;

    private readonly HeaderCopies _headers = new();
    private volatile int _maxMessageBytes = maxMessageBytes > 0 ? maxMessageBytes : SqsLimits.MaxMessageBytes;

    /// <summary>The largest message the queue takes: SQS's limit until the pump has read the queue's own.</summary>
    public int MaxMessageBytes
    {
        get => _maxMessageBytes;
        set => _maxMessageBytes = value;
    }

    /// <summary>The event to buffer, or why it is refused.</summary>
    public Admission Admit(string? url, string? httpVerb, IReadOnlyDictionary<string, string>? headers, string? jsonBody)
    {
        if (string.IsNullOrEmpty(url) || string.IsNullOrEmpty(jsonBody))
        {
            return new Admission(null, RefusalKind.Missing, 0);
        }

        int bytes = Encoding.UTF8.GetByteCount(jsonBody);
        if (WireFormat.EnvelopeBytes + bytes + url!.Length + FieldAllowance > _maxMessageBytes)
        {
            return new Admission(null, RefusalKind.TooLarge, bytes);
        }

        var e = new QueuedEvent(url, string.IsNullOrEmpty(httpVerb) ? "POST" : httpVerb!, _headers.CopyOf(headers), jsonBody!, time.GetUtcNow());
        return new Admission(PendingEvent.For(e, bytes), null, bytes);
    }
}

/// <summary>What <see cref="EventAdmission.Admit"/> decided.</summary>
/// <param name="Event">The event to buffer; null when refused.</param>
/// <param name="Refusal">Why it was refused; null when admitted.</param>
/// <param name="BodyBytes">The body's UTF-8 bytes (0 when it is missing).</param>
internal readonly record struct Admission(PendingEvent? Event, RefusalKind? Refusal, int BodyBytes);
