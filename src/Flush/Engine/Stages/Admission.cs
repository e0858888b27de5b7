using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using BulkDispatch.Core;
using BulkDispatch.Core.Events;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Engine.Stages;

/// <summary>An event that may be sent: its header and the visitors that fit a request.</summary>
internal sealed record AdmittedEvent(EventTracker Tracker, EventBatchParts Parts, IReadOnlyList<ReadOnlyMemory<byte>> Visitors);

/// <summary>A message's admitted events, for the packer.</summary>
internal sealed record DecodedMessage(InFlightMessage Message, IReadOnlyList<AdmittedEvent> Events);

/// <summary>What admission lets through: the allow-listed endpoints, the header of legacy messages, the request size.</summary>
internal sealed record AdmissionRules(IReadOnlyList<Uri> AllowedEndpoints, LegacyHeader? Legacy, string LegacyMissingSettings, int MaxRequestBytes);

/// <summary>
/// Admission and decoding. Reads received messages; writes each message's admissible events to its output and
/// every permanent failure (undecodable, unknown version, URL not allowed, not an EventBatch, a visitor too
/// large for any request) to the dead letters, with every such part expected in the ledger before the
/// message's decoding is resolved. Completes its output when its input completes.
/// </summary>
internal sealed partial class Admission(AdmissionRules rules, InFlightLedger ledger, RunCounters counters, ILogger log, string runId)
{
    private readonly ConcurrentDictionary<string, string?> _problemByUrl = new(StringComparer.Ordinal);

    public async Task RunAsync(ChannelReader<InFlightMessage> input, ChannelWriter<DecodedMessage> output, ChannelWriter<DeadLetter> deadLetters)
    {
        try
        {
            var admitted = new List<AdmittedEvent>();
            var rejected = new List<DeadLetter>();
            await foreach (var message in input.ReadAllAsync(CancellationToken.None))
            {
                try
                {
                    Decode(message, admitted, rejected);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A bug must not cost the run: this message stays in the queue, the others go on.
                    LogUnexpected(log, runId, message.MessageId, ex);
                    counters.TransientFailure($"unexpected error on message {message.MessageId}: {LogText.Escape(ex.Message)}");
                    admitted.Clear();
                    rejected.Clear();
                    ledger.Abandon(message);
                    continue;
                }

                // Every part is expected before the decoding resolves, so the message cannot be settled early.
                ledger.Expect(message, rejected.Count + admitted.Sum(e => e.Visitors.Count));
                foreach (var deadLetter in rejected)
                {
                    deadLetters.TryWrite(deadLetter);
                }

                if (admitted.Count > 0)
                {
                    await output.WriteAsync(new DecodedMessage(message, [.. admitted]), CancellationToken.None);
                }

                admitted.Clear();
                rejected.Clear();
                ledger.Resolve(message);
            }
        }
        finally
        {
            output.TryComplete();
        }
    }

    /// <summary>Sorts the message's events into <paramref name="admitted"/> and <paramref name="rejected"/>; touches nothing else but the counts.</summary>
    internal void Decode(InFlightMessage message, List<AdmittedEvent> admitted, List<DeadLetter> rejected)
    {
        // Pooled buffers end to end (messages are up to 1 MiB, payloads up to 8 MiB: large-object-heap arrays otherwise):
        // version-1 events are slices of the message's text; a version-2 payload is decompressed into a buffer of
        // exactly its declared size, which then replaces the text.
        var text = message.Text;
        var decoded = MessageDecoder.Decode(text, rules.Legacy, rules.LegacyMissingSettings, message.Payloads, ledger.MaxPayloadBytes);
        if (!decoded.Succeeded)
        {
            rejected.Add(new DeadLetter(Encoding.UTF8.GetString(text.Span), decoded.FailureReason!, decoded.FailureDetail!, message, null));
            return;
        }

        if (decoded.Payload is { } payload)
        {
            ledger.HoldPayload(message, payload);
        }

        foreach (var e in decoded.Events)
        {
            counters.EventDecoded();
            if (Admit(message, e, rejected) is { } parts)
            {
                var tracker = new EventTracker(message, e, parts.Visitors.Count);
                var visitors = FittingVisitors(e, parts, tracker, rejected);
                if (parts.Visitors.Count == 0)
                {
                    counters.EmptyEventDelivered(); // nothing in it to deliver
                }
                else if (visitors.Count > 0)
                {
                    admitted.Add(new AdmittedEvent(tracker, parts, visitors));
                }
            }
        }
    }

    private EventBatchParts? Admit(InFlightMessage message, DecodedEvent e, List<DeadLetter> rejected)
    {
        string? reason = null, detail = null;
        EventBatchParts? parts = null;
        if (UrlProblem(e.Url) is { } problem)
        {
            (reason, detail) = (DeadLetterReason.EndpointNotAllowed, problem);
        }
        else if (!string.Equals(e.HttpVerb, "POST", StringComparison.OrdinalIgnoreCase))
        {
            (reason, detail) = (DeadLetterReason.InvalidEvent, $"Event verb '{LogText.Escape(e.HttpVerb)}' is not POST.");
        }
        else if (!e.TryGetParts(out parts, out var error))
        {
            (reason, detail) = (DeadLetterReason.InvalidEvent, error!);
        }

        if (reason is not null)
        {
            rejected.Add(new DeadLetter(WireFormat.EncodeOne(e, e.Body.Span), reason, detail!, message, null));
            return null;
        }

        return parts;
    }

    /// <summary>The event's visitors that fit a request; each one that alone is over <c>MaxRequestBytes</c> is dead-lettered.</summary>
    private IReadOnlyList<ReadOnlyMemory<byte>> FittingVisitors(DecodedEvent e, EventBatchParts parts, EventTracker tracker, List<DeadLetter> rejected)
    {
        int emptyBody = EventBatchWriter.EmptyBodyBytes(parts.HeaderBytes, parts.HeaderProperties.Count);
        if (Largest(parts.Visitors) + emptyBody <= rules.MaxRequestBytes)
        {
            return parts.Visitors; // the usual case, without a copy of the list
        }

        var fitting = new List<ReadOnlyMemory<byte>>(parts.Visitors.Count);
        foreach (var visitor in parts.Visitors)
        {
            if (emptyBody + visitor.Length <= rules.MaxRequestBytes)
            {
                fitting.Add(visitor);
                continue;
            }

            tracker.MarkUndelivered();
            var body = EventBatchWriter.Write(parts.HeaderProperties, [visitor]);
            rejected.Add(new DeadLetter(WireFormat.EncodeOne(e, body), DeadLetterReason.VisitorTooLarge,
                $"One visitor makes a {body.Length}-byte request, over BulkDispatch__Flush__MaxRequestBytes ({rules.MaxRequestBytes}).", tracker.Message, tracker));
        }

        return fitting;
    }

    private static int Largest(IReadOnlyList<ReadOnlyMemory<byte>> visitors)
    {
        int largest = 0;
        for (int i = 0; i < visitors.Count; i++)
        {
            largest = Math.Max(largest, visitors[i].Length);
        }

        return largest;
    }

    /// <summary>Why the flush will not send to <paramref name="url"/> (a detail quoting it safely), or null when it may.</summary>
    private string? UrlProblem(string url)
    {
        // A run sees a handful of distinct URLs; parsing a Uri per event was ~400 MiB of allocations per
        // million events. The URLs come from queue data (untrusted), so the cache stays small.
        if (_problemByUrl.TryGetValue(url, out string? problem))
        {
            return problem;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) ||
            !rules.AllowedEndpoints.Any(a => Uri.Compare(a, uri, UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0))
        {
            problem = $"Event URL '{LogText.Escape(url)}' is not in BulkDispatch__Optimizely__AllowedEndpoints.";
        }
        else if (uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            // The allow-list compares scheme, host, port and path: anything else would reach the endpoint unchecked.
            problem = $"Event URL '{LogText.Escape(url)}' has a query, fragment or user info: events are sent only to an endpoint of BulkDispatch__Optimizely__AllowedEndpoints exactly.";
        }
        else
        {
            problem = null;
        }

        if (_problemByUrl.Count < 64)
        {
            _problemByUrl[url] = problem;
        }

        return problem;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Flush {RunId}: unexpected error on message {MessageId}; it stays in the queue")]
    private static partial void LogUnexpected(ILogger logger, string runId, string messageId, Exception ex);
}
