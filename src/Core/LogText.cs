using System.Globalization;
using System.Text;

namespace BulkDispatch.Core;

/// <summary>
/// Makes text that came from queue data (URLs, keys, values) safe to put into a log line, an exception
/// message or a dead-letter detail: a raw line break or control character in it could otherwise forge a
/// log line or hide part of one, and a megabyte-long value would flood the log.
/// </summary>
public static class LogText
{
    /// <summary>The characters of escaped text <see cref="Escape"/> keeps when no other limit is given.</summary>
    public const int DefaultMaxLength = 200;

    /// <summary>
    /// Renders <paramref name="text"/> on one line with every control character visible: <c>\r</c>,
    /// <c>\n</c>, <c>\t</c>, <c>\0</c>, and <c>\uXXXX</c> for the other C0 and C1 controls, DEL, the
    /// Unicode line and paragraph separators, bidirectional-text controls, lone surrogates and U+FFFE/U+FFFF
    /// (what is left is text an SQS message attribute accepts); a backslash
    /// becomes <c>\\</c>, so an escape can never be mistaken for the text it stands for. Keeps at most
    /// <paramref name="maxLength"/> characters of the escaped text and then says how long the text was.
    /// </summary>
    public static string Escape(string? text, int maxLength = DefaultMaxLength)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }

        if (maxLength < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "Keep at least one character.");
        }

        if (text!.Length <= maxLength && !NeedsEscape(text))
        {
            return text;
        }

        var escaped = new StringBuilder(Math.Min(text.Length, maxLength) + 40);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool pair = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            string? escape = pair ? null : EscapeOf(c);
            int width = escape?.Length ?? (pair ? 2 : 1);
            if (escaped.Length + width > maxLength)
            {
                escaped.Append("…(").Append(text.Length.ToString(CultureInfo.InvariantCulture)).Append(" characters in all)");
                break;
            }

            if (escape is not null)
            {
                escaped.Append(escape);
            }
            else if (pair)
            {
                escaped.Append(c).Append(text[++i]);
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }

    private static bool NeedsEscape(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (EscapeOf(c) is not null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The escape for one character (not part of a surrogate pair), or null when it stays as it is.</summary>
    private static string? EscapeOf(char c) => c switch
    {
        '\\' => @"\\",
        '\r' => @"\r",
        '\n' => @"\n",
        '\t' => @"\t",
        '\0' => @"\0",
        // C0, DEL, C1 (NEL, U+0085, is a line break to some readers).
        < ' ' or (>= '\u007F' and <= '\u009F') => Unicode(c),
        // Line and paragraph separators, and bidirectional controls that make a line read as something else.
        '\u2028' or '\u2029' or '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') => Unicode(c),
        _ when char.IsSurrogate(c) => Unicode(c), // a lone half: the caller checked for a pair
        // Not characters; SQS refuses them in a message attribute (a dead letter with one could never be placed).
        '\uFFFE' or '\uFFFF' => Unicode(c),
        _ => null,
    };

    private static string Unicode(char c) => "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture);
}
