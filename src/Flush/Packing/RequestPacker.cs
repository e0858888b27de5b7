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
    private readonly Dictionary<string, PackedRequest<TTag>> _open = new(StringComparer.Ordinal);

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
    public void Add(string url, EventBatchParts header, PackedVisitor<TTag> visitor, long now, List<PackedRequest<TTag>> closed)
    {
        string key = string.Concat(url, "\n", header.HeaderKey);
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
