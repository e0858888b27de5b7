using System.Globalization;

namespace BulkDispatch.EndToEnd;

/// <summary>Prints the figures of each size, the reference design's beside them, and their ratios.</summary>
internal static class Report
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static void PrintSize(Action<string> say, Figures p, Figures b, (double Send, double Drain) ceiling)
    {
        string label = b.Extrapolated ? string.Create(C, $"reference (EXTRAPOLATED linearly from {b.SampleEvents:N0} events)") : "reference (measured)";
        say(string.Create(C, $"== {p.Events:N0} events ({p.UuidsExpected:N0} visitors)"));
        say(string.Create(C, $"  {"figure",-52} {"BulkDispatch",16} {label}  ratio"));
        Row(say, "end-to-end s (first publish -> last accepted)", p.EndToEndSeconds, b.Ticks * 60.0, "0.0", "  (reference: ticks x 60 s in production)");
        Row(say, "  reference simulated back to back, s", p.EndToEndSeconds, b.EndToEndSeconds, "0.0", "");
        Row(say, "events/s end to end", p.Events / p.EndToEndSeconds, b.Events / (b.Ticks * 60.0), "N0", "");
        Row(say, "publish events/s (into SQS)", p.Events / p.PublishSeconds, b.Events / b.PublishSeconds, "N0", "");
        Row(say, "flush events/s (events / flush processes' wall time)", p.Events / p.FlushSeconds, b.Events / b.FlushSeconds, "N0", string.Create(C, $"  ({p.FlushProcesses} flush processes, {p.FlushSeconds:0.0} s)"));
        say(string.Create(C, $"  {"peak working set of the flush process, MiB",-52} {p.PeakWorkingSetBytes / 1048576.0,16:0}"));
        say(string.Create(C, $"  {"flush CPU (user+sys), s; µs per event",-52} {p.FlushCpuSeconds,16:0.0} {1e6 * p.FlushCpuSeconds / p.Events,16:0}"));
        say(string.Create(C, $"  {"consumer ticks (minutes in production)",-52} {"-",16} {b.Ticks,16:N0}"));
        foreach (var op in new[] { "SendMessageBatch", "SendMessage", "ReceiveMessage", "DeleteMessageBatch", "DeleteMessage" })
        {
            if (p.Requests(op) + b.Requests(op) > 0)
            {
                Row(say, $"SQS {op} per 1,000 events", 1000.0 * p.Requests(op) / p.Events, 1000.0 * b.Requests(op) / b.Events, "0.0", "");
            }
        }

        long pAll = p.Sqs.Values.Sum(x => x.Requests), bAll = b.Sqs.Values.Sum(x => x.Requests);
        Row(say, "SQS requests per 1,000 events, all", 1000.0 * pAll / p.Events, 1000.0 * bAll / b.Events, "0.0", "");
        Row(say, "SQS billed units (64 KiB chunks) per 1,000 events", 1000.0 * p.Units / p.Events, 1000.0 * b.Units / b.Events, "0.0", "");
        Row(say, "Event API requests per 1,000 events", 1000.0 * p.ApiRequests / p.Events, 1000.0 * b.ApiRequests / b.Events, "0.00", "");
        Row(say, "Event API bytes sent, MB", p.ApiBytes / 1e6, b.ApiBytes / 1e6, "0.0", "  (reference: first visitor only)");
        say(string.Create(C, $"  {"visitors delivered / published",-52} {p.UuidsDelivered,8:N0}/{p.UuidsExpected:N0} {b.UuidsDelivered:N0}/{p.UuidsExpected:N0} (the reference keeps the first visitor of each event)"));
        say(string.Create(C, $"  {"duplicates delivered, dropped by the producer",-52} {p.Duplicates:N0}, {p.Dropped:N0}"));
        say(string.Create(C, $"  SQS requests by operation (BulkDispatch): {string.Join(", ", p.Sqs.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => $"{x.Key} {x.Value.Requests:N0} ({x.Value.Units:N0} units)"))}"));
        say(string.Create(C, $"  emulator ceiling: bare send {ceiling.Send:N0} events/s, bare drain {ceiling.Drain:N0} events/s; BulkDispatch end to end / min(ceiling) = {p.Events / p.EndToEndSeconds / Math.Min(ceiling.Send, ceiling.Drain):0.00}"));
    }

    public static void PrintSummary(
        Action<string> say,
        List<(Figures Product, Figures Baseline)> results,
        (double Send, double Drain)? ceiling,
        (long ProductLost, long ProductEvents, long BaselineLost, long BaselineEvents)? outage,
        IEnumerable<string> flushAlone)
    {
        say("== summary" + (results.Count > 0 ? " (markdown; ratio = BulkDispatch / reference)" : ""));
        if (results.Count > 0)
        {
            say("| events | e2e s | e2e events/s | flush events/s | flush peak WS MiB | SQS req/1k | billed units/1k | API req/1k | API MB | ref ticks (min) | ref SQS req/1k | ref units/1k | ref API req/1k | req ratio | units ratio | time ratio (e2e vs ticks x 60 s) |");
            say("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        }

        foreach (var (p, b) in results)
        {
            double pReq = 1000.0 * p.Sqs.Values.Sum(x => x.Requests) / p.Events, bReq = 1000.0 * b.Sqs.Values.Sum(x => x.Requests) / b.Events;
            double pUnits = 1000.0 * p.Units / p.Events, bUnits = 1000.0 * b.Units / b.Events;
            say(string.Create(C,
                $"| {p.Events:N0} | {p.EndToEndSeconds:0.0} | {p.Events / p.EndToEndSeconds:N0} | {p.Events / p.FlushSeconds:N0} | {p.PeakWorkingSetBytes / 1048576.0:0} | {pReq:0.0} | {pUnits:0.0} | {1000.0 * p.ApiRequests / p.Events:0.00} | {p.ApiBytes / 1e6:0} | {b.Ticks:N0}{(b.Extrapolated ? " (extrap.)" : "")} | {bReq:0} | {bUnits:0} | {1000.0 * b.ApiRequests / b.Events:0.0} | 1/{bReq / pReq:0} | 1/{bUnits / pUnits:0} | 1/{b.Ticks * 60.0 / p.EndToEndSeconds:0} |"));
        }

        if (ceiling is { } c)
        {
            say(string.Create(C, $"emulator ceiling: bare SendMessageBatch {c.Send:N0} events/s; bare drain {c.Drain:N0} events/s"));
        }

        foreach (string line in flushAlone)
        {
            say(line);
        }

        if (outage is { } o)
        {
            say(string.Create(C, $"outage (3 ticks of 503): BulkDispatch lost {o.ProductLost} of {o.ProductEvents} events; reference lost {o.BaselineLost} of {o.BaselineEvents}"));
        }
    }

    private static void Row(Action<string> say, string name, double product, double reference, string format, string note)
    {
        string ratio = reference == 0 || product == 0 ? "" : product / reference >= 1 ? (product / reference).ToString("0.00", C) : "1/" + (reference / product).ToString("0.0", C);
        say(string.Create(C, $"  {name,-52} {product.ToString(format, C),16} {reference.ToString(format, C),16}  {ratio}{note}"));
    }
}
