using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace BulkDispatch.Cli.Metrics;

/// <summary>
/// Writes OpenTelemetry metrics as the Prometheus text exposition format (version 0.0.4): one family per metric,
/// named the way OpenTelemetry's Prometheus exporters name them (dots to underscores, the unit as a suffix,
/// <c>_total</c> on counters), so <c>bulkdispatch.flush.messages.received</c> is
/// <c>bulkdispatch_flush_messages_received_total</c> and <c>bulkdispatch.flush.run.duration</c> (s) is
/// <c>bulkdispatch_flush_run_duration_seconds</c>.
/// </summary>
internal static class PrometheusText
{
    /// <summary>The Content-Type of a scrape.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Appends <paramref name="metric"/>'s family: HELP, TYPE and one sample line per point (and bucket).</summary>
    public static void Write(StringBuilder text, Metric metric)
    {
        var type = metric.MetricType;
        string? family = type switch
        {
            MetricType.LongSum or MetricType.DoubleSum => "counter",
            MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic or MetricType.LongGauge or MetricType.DoubleGauge => "gauge",
            MetricType.Histogram => "histogram",
            _ => null, // exponential histograms: nothing here records one
        };
        if (family is null)
        {
            return;
        }

        string name = Name(metric.Name, metric.Unit, counter: family == "counter");
        if (!string.IsNullOrEmpty(metric.Description))
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(metric.Description)).Append('\n');
        }

        text.Append("# TYPE ").Append(name).Append(' ').Append(family).Append('\n');
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var labels = Labels(point.Tags);
            if (type == MetricType.Histogram)
            {
                long cumulative = 0;
                foreach (var bucket in point.GetHistogramBuckets())
                {
                    cumulative += bucket.BucketCount;
                    string le = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : Number(bucket.ExplicitBound);
                    Sample(text, name + "_bucket", WithLabel(labels, "le", le), cumulative.ToString(CultureInfo.InvariantCulture));
                }

                Sample(text, name + "_sum", labels, Number(point.GetHistogramSum()));
                Sample(text, name + "_count", labels, point.GetHistogramCount().ToString(CultureInfo.InvariantCulture));
                continue;
            }

            string value = type switch
            {
                MetricType.LongSum or MetricType.LongSumNonMonotonic => point.GetSumLong().ToString(CultureInfo.InvariantCulture),
                MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => Number(point.GetSumDouble()),
                MetricType.LongGauge => point.GetGaugeLastValueLong().ToString(CultureInfo.InvariantCulture),
                _ => Number(point.GetGaugeLastValueDouble()),
            };
            Sample(text, name, labels, value);
        }
    }

    /// <summary>The Prometheus name of an OpenTelemetry instrument: legal characters, the unit, <c>_total</c> for counters.</summary>
    internal static string Name(string instrument, string? unit, bool counter)
    {
        var name = new StringBuilder(Sanitize(instrument));
        string suffix = UnitSuffix(unit);
        if (suffix.Length > 0 && !name.ToString().EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            name.Append('_').Append(suffix);
        }

        if (counter && !name.ToString().EndsWith("_total", StringComparison.Ordinal))
        {
            name.Append("_total");
        }

        return name.ToString();
    }

    // UCUM units as OpenTelemetry writes them; an annotation in braces ({message}) names no unit.
    private static string UnitSuffix(string? unit) => unit switch
    {
        null or "" or "1" => "",
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        _ when unit.StartsWith('{') && unit.EndsWith('}') => "",
        _ => Sanitize(unit).Trim('_'),
    };

    private static string Sanitize(string text)
    {
        var result = new StringBuilder(text.Length + 1);
        foreach (char c in text)
        {
            result.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
        }

        if (result.Length > 0 && char.IsAsciiDigit(result[0]))
        {
            result.Insert(0, '_');
        }

        return result.ToString();
    }

    private static string Labels(ReadOnlyTagCollection tags)
    {
        var labels = new List<string>();
        foreach (var tag in tags)
        {
            labels.Add(Sanitize(tag.Key) + "=\"" + EscapeLabel(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "") + "\"");
        }

        return string.Join(",", labels);
    }

    private static string WithLabel(string labels, string name, string value) =>
        (labels.Length == 0 ? "" : labels + ",") + name + "=\"" + value + "\"";

    private static void Sample(StringBuilder text, string name, string labels, string value)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{').Append(labels).Append('}');
        }

        text.Append(' ').Append(value).Append('\n');
    }

    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string EscapeHelp(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeLabel(string text) => EscapeHelp(text).Replace("\"", "\\\"", StringComparison.Ordinal);
}
