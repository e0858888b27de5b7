using Microsoft.Extensions.Configuration;
using NCrontab;

namespace BulkDispatch.Cli.Serve;

/// <summary>
/// The <c>FlushSchedule</c> setting: a six-field NCRONTAB expression (<c>{second} {minute} {hour} {day} {month} {day-of-week}</c>)
/// read as the Azure Functions timer reads it, in UTC unless <c>WEBSITE_TIME_ZONE</c> or <c>TZ</c> names a time zone.
/// Around daylight-saving changes it behaves like the Functions timer: a local time skipped by "spring forward" runs at
/// the first instant after the gap; in the hour repeated by "fall back", interval schedules (<c>*</c>, <c>/</c> or
/// <c>-</c> in the seconds, minutes or hours field) keep their rhythm and point-in-time schedules run once.
/// </summary>
internal sealed class FlushSchedule
{
    /// <summary>The setting that holds the expression.</summary>
    public const string SettingName = "FlushSchedule";

    /// <summary>Every minute, on the minute: the Functions host's default for this product.</summary>
    public const string DefaultExpression = "0 */1 * * * *";

    private const string Example = "Example: 0 */1 * * * * (every minute; fields: second minute hour day month day-of-week).";

    private readonly CrontabSchedule _cron;

    private FlushSchedule(string expression, CrontabSchedule cron, TimeZoneInfo timeZone, string timeZoneSource)
    {
        Expression = expression;
        _cron = cron;
        TimeZone = timeZone;
        TimeZoneSource = timeZoneSource;
        IsInterval = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(3).Any(f => f.IndexOfAny(['*', '/', '-']) >= 0);
    }

    /// <summary>The expression as given.</summary>
    public string Expression { get; }

    /// <summary>The zone the expression's wall-clock times are in.</summary>
    public TimeZoneInfo TimeZone { get; }

    /// <summary>Where <see cref="TimeZone"/> came from: <c>WEBSITE_TIME_ZONE</c>, <c>TZ</c> or <c>default</c>.</summary>
    public string TimeZoneSource { get; }

    /// <summary>True when the schedule repeats within a day (see the class remarks on daylight saving).</summary>
    public bool IsInterval { get; }

    /// <summary>Parses <paramref name="expression"/>; the zone is UTC unless given.</summary>
    /// <exception cref="ServeConfigurationException">The expression is not a valid six-field NCRONTAB expression.</exception>
    public static FlushSchedule Parse(string? expression, TimeZoneInfo? timeZone = null, string timeZoneSource = "default")
    {
        var errors = new List<string>();
        var schedule = TryParse(expression, timeZone ?? TimeZoneInfo.Utc, timeZoneSource, errors);
        return schedule ?? throw new ServeConfigurationException(errors);
    }

    /// <summary>
    /// Reads <c>FlushSchedule</c> (default <see cref="DefaultExpression"/>) and the time zone from <c>WEBSITE_TIME_ZONE</c>,
    /// else <c>TZ</c>, else UTC.
    /// </summary>
    /// <exception cref="ServeConfigurationException">Lists every problem, each naming its setting with an example.</exception>
    public static FlushSchedule FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        var (zone, source) = ResolveTimeZone(configuration, errors);
        string? expression = configuration[SettingName];
        var schedule = TryParse(string.IsNullOrWhiteSpace(expression) ? DefaultExpression : expression, zone ?? TimeZoneInfo.Utc, source, errors);
        return errors.Count == 0 && schedule is not null ? schedule : throw new ServeConfigurationException(errors);
    }

    /// <summary>The first tick strictly after <paramref name="after"/>.</summary>
    public DateTimeOffset Next(DateTimeOffset after)
    {
        if (TimeZone.BaseUtcOffset == TimeSpan.Zero && !TimeZone.SupportsDaylightSavingTime)
        {
            var utc = _cron.GetNextOccurrence(after.UtcDateTime);
            return new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Unspecified), TimeSpan.Zero);
        }

        var now = TimeZoneInfo.ConvertTime(after, TimeZone);
        var wall = _cron.GetNextOccurrence(now.DateTime);

        // A wall-clock time skipped by "spring forward" takes the standard offset, which lands just after the gap;
        // an ambiguous one ("fall back") takes the standard offset too, corrected below.
        var next = TimeZoneInfo.ConvertTime(new DateTimeOffset(wall, TimeZone.GetUtcOffset(wall)), TimeZone);
        if (!TimeZone.SupportsDaylightSavingTime)
        {
            return next;
        }

        bool nowAmbiguous = TimeZone.IsAmbiguousTime(now);
        bool nextAmbiguous = TimeZone.IsAmbiguousTime(next);
        if (!nowAmbiguous && !nextAmbiguous)
        {
            return next;
        }

        if (IsInterval && next.Offset != now.Offset)
        {
            // Crossing the fall-back boundary: keep the rhythm through the repeated hour (01:30 daylight, then 01:00 standard, ...).
            return TimeZoneInfo.ConvertTime(next + (next.Offset - now.Offset), TimeZone);
        }

        if (!IsInterval && nextAmbiguous)
        {
            if (next.Offset != now.Offset)
            {
                // Now is still daylight time: run at the first (daylight) occurrence of the repeated time.
                return TimeZoneInfo.ConvertTime(next + (next.Offset - now.Offset), TimeZone);
            }

            // Already in the repeated hour's standard half: its first occurrence has passed; skip past the repeated hour.
            var later = wall;
            while (TimeZone.IsAmbiguousTime(later))
            {
                later = _cron.GetNextOccurrence(later);
            }

            return TimeZoneInfo.ConvertTime(new DateTimeOffset(later, TimeZone.GetUtcOffset(later)), TimeZone);
        }

        return next;
    }

    /// <summary>For the log: the expression and its zone.</summary>
    public override string ToString() => $"'{Expression}' ({TimeZone.Id}{(TimeZoneSource == "default" ? "" : " from " + TimeZoneSource)})";

    private static FlushSchedule? TryParse(string? expression, TimeZoneInfo zone, string source, List<string> errors)
    {
        string text = (expression ?? "").Trim();
        int fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        if (fields != 6)
        {
            string hint = fields == 5 ? $" A five-field cron expression needs a seconds field first: '0 {text}'." : "";
            errors.Add($"{SettingName}: '{text}' is not a six-field NCRONTAB expression (it has {fields} field{(fields == 1 ? "" : "s")}).{hint} {Example}");
            return null;
        }

        var cron = CrontabSchedule.TryParse(text, new CrontabSchedule.ParseOptions { IncludingSeconds = true });
        if (cron is null)
        {
            errors.Add($"{SettingName}: '{text}' is not a valid NCRONTAB expression. {Example}");
            return null;
        }

        return new FlushSchedule(text, cron, zone, source);
    }

    private static (TimeZoneInfo? Zone, string Source) ResolveTimeZone(IConfiguration configuration, List<string> errors)
    {
        foreach (string name in (string[])["WEBSITE_TIME_ZONE", "TZ"])
        {
            string? value = configuration[name]?.Trim();
            if (string.IsNullOrEmpty(value))
            {
                continue;
            }

            // POSIX allows TZ=":Area/City" and TZ="/usr/share/zoneinfo/Area/City".
            string id = value.TrimStart(':');
            int zoneinfo = id.IndexOf("zoneinfo/", StringComparison.Ordinal);
            if (zoneinfo >= 0)
            {
                id = id[(zoneinfo + "zoneinfo/".Length)..];
            }

            try
            {
                return (TimeZoneInfo.FindSystemTimeZoneById(id), name);
            }
            catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
            {
                errors.Add($"{name}: '{value}' is not a time zone this machine knows ({ex.GetType().Name}). " +
                           "Give an IANA or Windows time zone id, or leave it unset for UTC. Example: Europe/Berlin (or W. Europe Standard Time).");
                return (null, name);
            }
        }

        return (TimeZoneInfo.Utc, "default");
    }
}

/// <summary>The schedule or its time zone is not usable; <c>serve</c> exits with code 2.</summary>
internal sealed class ServeConfigurationException(IReadOnlyList<string> errors)
    : Exception("bulkdispatch serve is not configured correctly:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    /// <summary>Every problem found, one sentence each, naming its setting.</summary>
    public IReadOnlyList<string> Errors { get; } = errors;
}
