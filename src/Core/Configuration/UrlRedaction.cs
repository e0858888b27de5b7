namespace BulkDispatch.Core.Configuration;

/// <summary>
/// Makes a URL safe to show: a user name and password (<c>http://user:SECRET@host/</c>) and a query string
/// (<c>?sig=SECRET</c>) may carry secrets, so both are replaced by <c>***</c>. Every message and log line that shows a
/// URL from the settings (queue URLs, endpoints, the vault) goes through here.
/// </summary>
public static class UrlRedaction
{
    private const string Hidden = "***";

    /// <summary><paramref name="value"/> with its userinfo and query replaced by <c>***</c>; text that is no URL is checked the same way.</summary>
    public static string Redact(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return value ?? "";
        }

        string text = value!;
        int query = text.IndexOf('?');
        string beforeQuery = query >= 0 ? text.Substring(0, query) : text;
        int fragment = query >= 0 ? text.IndexOf('#', query) : -1;
        string afterQuery = query < 0 ? "" : "?" + Hidden + (fragment >= 0 ? text.Substring(fragment) : "");

        // The authority starts after "scheme://" (or at the start of text that has no scheme) and ends at the first '/'.
        int scheme = beforeQuery.IndexOf("://", StringComparison.Ordinal);
        int authorityStart = scheme >= 0 ? scheme + 3 : 0;
        int pathStart = beforeQuery.IndexOf('/', authorityStart);
        int authorityEnd = pathStart >= 0 ? pathStart : beforeQuery.Length;
        int at = authorityEnd > authorityStart ? beforeQuery.LastIndexOf('@', authorityEnd - 1, authorityEnd - authorityStart) : -1;
        if (at >= authorityStart)
        {
            beforeQuery = beforeQuery.Remove(authorityStart, at - authorityStart).Insert(authorityStart, Hidden);
        }

        return beforeQuery + afterQuery;
    }
}
