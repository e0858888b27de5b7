namespace BulkDispatch.Producer.Buffering;

/// <summary>
/// Private copies of the callers' headers (a caller may reuse its dictionary). The SDK sends the same headers with
/// every event, so the last copy is shared while they stay equal: no allocation per event. Thread-safe.
/// </summary>
internal sealed class HeaderCopies
{
    private static readonly Dictionary<string, string> Empty = [];
    private volatile Dictionary<string, string>? _last;

    /// <summary>A copy of <paramref name="headers"/> that nobody changes (names compared ignoring case, as HTTP does).</summary>
    public Dictionary<string, string> CopyOf(IReadOnlyDictionary<string, string>? headers)
    {
        if (headers is null || headers.Count == 0)
        {
            return Empty;
        }

        var last = _last;
        if (last is not null && Same(last, headers))
        {
            return last;
        }

        var copy = new Dictionary<string, string>(headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var pair in headers)
        {
            copy[pair.Key] = pair.Value;
        }

        _last = copy;
        return copy;
    }

    private static bool Same(Dictionary<string, string> copy, IReadOnlyDictionary<string, string> headers)
    {
        if (copy.Count != headers.Count)
        {
            return false;
        }

        foreach (var pair in headers)
        {
            if (!copy.TryGetValue(pair.Key, out var value) || !string.Equals(value, pair.Value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}
