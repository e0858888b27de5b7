using System.Diagnostics;
using System.Text.Json;

namespace BulkDispatch.Sandbox;

/// <summary>
/// Running totals of what <see cref="LocalEventApi"/> answered: requests, accepted visitors and bytes,
/// and the distinct event uuids accepted (16 bytes each), so a benchmark can tell when every event
/// arrived, and how many came twice, without keeping bodies.
/// </summary>
public sealed class EventApiCounts
{
    private readonly Lock _gate = new();
    private readonly HashSet<Guid> _uuids = [];
    private long _requests, _accepted, _visitors, _bytes, _duplicates, _lastAcceptedAt;

    /// <summary>Requests answered, whatever the status.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests answered with a 2xx status.</summary>
    public long AcceptedRequests => Interlocked.Read(ref _accepted);

    /// <summary>Visitors in accepted requests (duplicates included).</summary>
    public long AcceptedVisitors => Interlocked.Read(ref _visitors);

    /// <summary>Body bytes of accepted requests.</summary>
    public long AcceptedBytes => Interlocked.Read(ref _bytes);

    /// <summary>Accepted event uuids seen before (replays Optimizely would de-duplicate).</summary>
    public long DuplicateUuids => Interlocked.Read(ref _duplicates);

    /// <summary>Distinct event uuids accepted.</summary>
    public int DistinctUuids
    {
        get
        {
            lock (_gate)
            {
                return _uuids.Count;
            }
        }
    }

    /// <summary><see cref="Stopwatch.GetTimestamp"/> of the last accepted request (0 before the first).</summary>
    public long LastAcceptedAt => Interlocked.Read(ref _lastAcceptedAt);

    internal void Record(EventApiRequest request, bool accepted)
    {
        Interlocked.Increment(ref _requests);
        if (!accepted)
        {
            return;
        }

        Interlocked.Increment(ref _accepted);
        Interlocked.Add(ref _visitors, request.VisitorCount);
        Interlocked.Add(ref _bytes, request.BodyLength);
        if (request.Uuids is { } uuids)
        {
            int duplicates = 0;
            lock (_gate)
            {
                foreach (var uuid in uuids)
                {
                    duplicates += _uuids.Add(uuid) ? 0 : 1;
                }
            }

            Interlocked.Add(ref _duplicates, duplicates);
        }

        Interlocked.Exchange(ref _lastAcceptedAt, Stopwatch.GetTimestamp());
    }

    internal void Reset()
    {
        lock (_gate)
        {
            _uuids.Clear();
            Interlocked.Exchange(ref _requests, 0);
            Interlocked.Exchange(ref _accepted, 0);
            Interlocked.Exchange(ref _visitors, 0);
            Interlocked.Exchange(ref _bytes, 0);
            Interlocked.Exchange(ref _duplicates, 0);
            Interlocked.Exchange(ref _lastAcceptedAt, 0);
        }
    }

    /// <summary>
    /// Reads every <c>"uuid"</c> string that parses as a GUID and counts the elements of the top-level
    /// <c>visitors</c> array; a body that is not JSON gives an error instead.
    /// </summary>
    internal static List<Guid> ReadUuids(byte[] body, out int visitors, out string? error)
    {
        var uuids = new List<Guid>();
        visitors = 0;
        error = null;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            bool inVisitors = false;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.CurrentDepth == 1)
                    {
                        inVisitors = reader.ValueTextEquals("visitors"u8);
                    }
                    else if (reader.ValueTextEquals("uuid"u8) && reader.Read() && reader.TokenType == JsonTokenType.String
                        && reader.TryGetGuid(out var uuid))
                    {
                        uuids.Add(uuid);
                    }
                }
                else if (inVisitors && reader.CurrentDepth == 2 && reader.TokenType == JsonTokenType.StartObject)
                {
                    visitors++;
                }
            }
        }
        catch (JsonException ex)
        {
            error = "Body is not valid JSON: " + ex.Message;
        }

        return uuids;
    }
}
