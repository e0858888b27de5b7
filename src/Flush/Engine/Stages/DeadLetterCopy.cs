using System.Text;
using BulkDispatch.Core.Wire;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>What was left out of a dead-letter copy so that it fits the dead-letter queue.</summary>
internal enum DeadLetterTrim
{
    /// <summary>The copy carries its reason and detail.</summary>
    None,

    /// <summary>The detail attribute was shortened.</summary>
    DetailShortened,

    /// <summary>Only the reason attribute is left.</summary>
    DetailDropped,

    /// <summary>The body alone fills the limit: no attributes (the reason is logged instead).</summary>
    AttributesDropped,
}

/// <summary>
/// What goes on the dead-letter queue for one dead letter: the body unchanged, and as much of its reason and detail
/// (as message attributes) as the queue's limit leaves room for. SQS counts a message's body and every attribute's
/// name, type and value against MaximumMessageSize, so a body at the limit goes without attributes. Pure logic.
/// </summary>
/// <param name="Body">The body, unchanged.</param>
/// <param name="Reason">The reason attribute, or null when it did not fit.</param>
/// <param name="Detail">The detail attribute, or null when it did not fit (or was empty: SQS refuses empty values).</param>
/// <param name="Trim">What was left out.</param>
internal sealed record DeadLetterCopy(string Body, string? Reason, string? Detail, DeadLetterTrim Trim = DeadLetterTrim.None)
{
    /// <summary>The longest detail a copy carries, in characters.</summary>
    public const int MaxDetailChars = 1000;

    private const string AttributeType = "String";
    private const string Ellipsis = "…";

    /// <summary>The bytes SQS counts: the UTF-8 body and each attribute's name, type and value.</summary>
    public int Bytes => Utf8(Body) + AttributeBytes(WireFormat.ReasonAttribute, Reason) + AttributeBytes(WireFormat.DetailAttribute, Detail);

    /// <summary>The copy of <paramref name="letter"/> that fits <paramref name="maxBytes"/>, or null when even its body alone does not.</summary>
    public static DeadLetterCopy? Fit(DeadLetter letter, int maxBytes)
    {
        string? detail = string.IsNullOrEmpty(letter.Detail) ? null
            : letter.Detail.Length <= MaxDetailChars ? letter.Detail
            : letter.Detail[..MaxDetailChars] + Ellipsis;
        string? reason = string.IsNullOrEmpty(letter.Reason) ? null : letter.Reason;
        var full = new DeadLetterCopy(letter.Body, reason, detail);
        if (full.Bytes <= maxBytes)
        {
            return full;
        }

        int withReason = Utf8(letter.Body) + AttributeBytes(WireFormat.ReasonAttribute, reason);
        int room = maxBytes - withReason - Utf8(WireFormat.DetailAttribute) - Utf8(AttributeType) - Utf8(Ellipsis);
        if (detail is not null && Shorten(detail, room) is { Length: > 0 } shortened)
        {
            return new DeadLetterCopy(letter.Body, reason, shortened + Ellipsis, DeadLetterTrim.DetailShortened);
        }

        if (withReason <= maxBytes)
        {
            return new DeadLetterCopy(letter.Body, reason, null, DeadLetterTrim.DetailDropped);
        }

        return Utf8(letter.Body) <= maxBytes ? new DeadLetterCopy(letter.Body, null, null, DeadLetterTrim.AttributesDropped) : null;
    }

    /// <summary>The longest start of <paramref name="text"/> of at most <paramref name="maxBytes"/> UTF-8 bytes, never splitting a surrogate pair.</summary>
    private static string Shorten(string text, int maxBytes)
    {
        int bytes = 0, length = 0;
        while (length < text.Length)
        {
            int width = char.IsHighSurrogate(text[length]) && length + 1 < text.Length ? 2 : 1;
            int more = Encoding.UTF8.GetByteCount(text.AsSpan(length, width));
            if (bytes + more > maxBytes)
            {
                break;
            }

            bytes += more;
            length += width;
        }

        return text[..length];
    }

    private static int AttributeBytes(string name, string? value) => value is null ? 0 : Utf8(name) + Utf8(AttributeType) + Utf8(value);

    private static int Utf8(string text) => Encoding.UTF8.GetByteCount(text);
}
