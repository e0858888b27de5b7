using System.Text;
using BulkDispatch.Core.Events;

namespace BulkDispatch.Flush.Packing;

/// <summary>
/// Groups visitors by URL and EventBatch header (every top-level field but <c>visitors</c>) and packs
/// each group into requests of at most <c>maxRequestBytes</c>. Pure logic: no I/O, not thread-safe
/// (one assembler owns it).
/// </summary>
internal sealed class RequestPacker<TTag>
{
    private readonly int _maxRequestBytes;
    private const int MaxInternedKeys = 10_000;
    private readonly Dictionary<string, PackedRequest<TTag>> _open = new(StringComparer.Ordinal);
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private char[] _keyBuffer = new char[512];
    private (string Url, IReadOnlyList<ReadOnlyMemory<byte>> Header, string Key)? _lastKey;

    public RequestPacker(int maxRequestBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRequestBytes, 64);
        _maxRequestBytes = maxRequestBytes;
    }

    /// <summary>Bytes of the bodies of the requests still open.</summary>
    public long OpenBytes { get; private set; }

    public int OpenRequests => _open.Count;

    /// <summary>Whether a visitor of this size fits a request with this header at all.</summary>
    public bool Fits(EventBatchParts header, int visitorBytes) =>
        EventBatchWriter.EmptyBodyBytes(header.HeaderBytes, header.HeaderProperties.Count) + visitorBytes <= _maxRequestBytes;

    /// <summary>
    /// Adds a visitor to its group's open request; a request that cannot take it is closed and
    /// appended to <paramref name="closed"/> first. The caller checks <see cref="Fits"/> beforehand.
    /// </summary>
    public void Add(string url, EventBatchParts header, PackedVisitor<TTag> visitor, long now, List<PackedRequest<TTag>> closed) =>
        Add(GroupKey(url, header), url, header, visitor, now, closed);

    /// <summary>As above, with the event's <see cref="GroupKey"/> worked out once for all its visitors.</summary>
    public void Add(string key, string url, EventBatchParts header, PackedVisitor<TTag> visitor, long now, List<PackedRequest<TTag>> closed)
    {
        if (_open.TryGetValue(key, out var request) && request.Bytes + request.CostOf(visitor.Json.Length) > _maxRequestBytes)
        {
            Close(key, request, closed);
            request = null;
        }

        if (request is null)
        {
            request = new PackedRequest<TTag>(url, header.HeaderProperties, header.HeaderBytes) { OpenedAt = now };
            if (request.Bytes + request.CostOf(visitor.Json.Length) > _maxRequestBytes)
            {
                throw new InvalidOperationException("Visitor does not fit an empty request; check Fits first.");
            }

            _open[key] = request;
            OpenBytes += request.Bytes;
        }

        int before = request.Bytes;
        request.Add(visitor);
        OpenBytes += request.Bytes - before;
    }

    /// <summary>
    /// The group of an event: equal exactly when the URL and the set of header properties (raw text, any
    /// order) are equal. Built in a reused buffer and interned, so an event of a known group allocates
    /// nothing (a new string per event, and per visitor, was a large share of the flush's allocations).
    /// </summary>
    public string GroupKey(string url, EventBatchParts header)
    {
        var properties = header.HeaderProperties;
        if (_lastKey is { } last && ReferenceEquals(last.Url, url) && ReferenceEquals(last.Header, properties))
        {
            return last.Key; // the decoder shares one header list among a message's events with the same header
        }

        string key = BuildGroupKey(url, properties);
        _lastKey = (url, properties, key);
        return key;
    }

    private string BuildGroupKey(string url, IReadOnlyList<ReadOnlyMemory<byte>> properties)
    {
        int count = properties.Count;
        Span<int> order = count <= 64 ? stackalloc int[count] : new int[count];
        int length = url.Length + 12;
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
            length += Encoding.UTF8.GetCharCount(properties[i].Span) + 1;
        }

        // Canonical order: insertion sort by raw bytes (a handful of properties).
        for (int i = 1; i < count; i++)
        {
            int current = order[i];
            int j = i - 1;
            while (j >= 0 && properties[order[j]].Span.SequenceCompareTo(properties[current].Span) > 0)
            {
                order[j + 1] = order[j];
                j--;
            }

            order[j + 1] = current;
        }

        if (_keyBuffer.Length < length)
        {
            _keyBuffer = new char[Math.Max(length, _keyBuffer.Length * 2)];
        }

        // The URL's length first, so no URL text can be mistaken for a header; \u0001 cannot occur raw in JSON.
        var key = _keyBuffer.AsSpan();
        url.Length.TryFormat(key, out int at, provider: System.Globalization.CultureInfo.InvariantCulture);
        key[at++] = ':';
        url.AsSpan().CopyTo(key[at..]);
        at += url.Length;
        foreach (int i in order)
        {
            key[at++] = '\u0001';
            at += Encoding.UTF8.GetChars(properties[i].Span, key[at..]);
        }

        var written = key[..at];
        var lookup = _keys.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(written, out var interned))
        {
            return interned;
        }

        if (_keys.Count >= MaxInternedKeys)
        {
            _keys.Clear(); // only saves allocations; equal keys stay equal as strings
        }

        interned = new string(written);
        _keys.Add(interned);
        return interned;
    }

    /// <summary>Closes every open request opened at or before <paramref name="openedBefore"/>.</summary>
    public void CloseOlderThan(long openedBefore, List<PackedRequest<TTag>> closed)
    {
        foreach (var (key, request) in _open.Where(p => p.Value.OpenedAt <= openedBefore).ToList())
        {
            Close(key, request, closed);
        }
    }

    /// <summary>Closes the fullest open requests until the open ones hold at most <paramref name="openBytes"/>.</summary>
    public void CloseLargestUntil(long openBytes, List<PackedRequest<TTag>> closed)
    {
        foreach (var (key, request) in _open.OrderByDescending(p => p.Value.Bytes).ToList())
        {
            if (OpenBytes <= openBytes)
            {
                return;
            }

            Close(key, request, closed);
        }
    }

    /// <summary>Closes every open request.</summary>
    public void CloseAll(List<PackedRequest<TTag>> closed) => CloseOlderThan(long.MaxValue, closed);

    private void Close(string key, PackedRequest<TTag> request, List<PackedRequest<TTag>> closed)
    {
        _open.Remove(key);
        OpenBytes -= request.Bytes;
        closed.Add(request);
    }
}
