using System.Text;
using BulkDispatch.Core;

namespace BulkDispatch.UnitTests.Core;

public sealed class LogTextTests
{
    [Theory]
    [InlineData("https://logx.optimizely.com/v1/events", "https://logx.optimizely.com/v1/events")]
    [InlineData("zoë ✓ 😀 \"quoted\" 'single' <>&+", "zoë ✓ 😀 \"quoted\" 'single' <>&+")]
    [InlineData("a\r\nb", @"a\r\nb")]
    [InlineData("tab\there", @"tab\there")]
    [InlineData("nul\0", @"nul\0")]
    [InlineData("bell\u0007 esc\u001b[31m del\u007f", @"bell\u0007 esc\u001B[31m del\u007F")]
    [InlineData("nel\u0085 csi\u009b", @"nel\u0085 csi\u009B")]
    [InlineData("line\u2028para\u2029", @"line\u2028para\u2029")]
    [InlineData("bidi\u202eevil\u2066x\u2069\u200f", @"bidi\u202Eevil\u2066x\u2069\u200F")]
    [InlineData(@"already \n escaped", @"already \\n escaped")]
    [InlineData("", "")]
    public void Escape_renders_every_control_character_visibly_and_keeps_the_rest(string text, string expected)
    {
        Assert.Equal(expected, LogText.Escape(text));
    }

    [Fact]
    public void Escape_renders_a_lone_surrogate_visibly_and_keeps_a_pair()
    {
        // Not an InlineData: attribute strings are stored as UTF-8, which has no lone surrogates.
        Assert.Equal(@"lone \uD800 and \uDC00, pair 😀", LogText.Escape("lone \ud800 and \udc00, pair \ud83d\ude00"));
    }

    [Fact]
    public void Escape_of_null_is_empty()
    {
        Assert.Equal("", LogText.Escape(null));
    }

    [Fact]
    public void Escape_leaves_no_character_a_log_reader_could_take_for_a_line_break_or_control()
    {
        var all = new string(Enumerable.Range(0, 0x10000).Select(i => (char)i).ToArray());

        string escaped = LogText.Escape(all, maxLength: int.MaxValue);

        Assert.DoesNotContain(escaped, c => char.IsControl(c) || c is '\u2028' or '\u2029' or '\u202E');
        for (int i = 0; i < escaped.Length; i++)
        {
            if (char.IsHighSurrogate(escaped[i]))
            {
                Assert.True(i + 1 < escaped.Length && char.IsLowSurrogate(escaped[++i]), $"a lone high surrogate at {i}");
            }
            else
            {
                Assert.False(char.IsLowSurrogate(escaped[i]), $"a lone low surrogate at {i}");
            }
        }
    }

    [Fact]
    public void Escaped_text_is_a_valid_SQS_attribute_value_without_line_breaks()
    {
        // SQS takes #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in an attribute; a dead letter whose
        // Detail held anything else could never be placed. CR and LF would forge a line where the Detail is printed.
        var all = new string(Enumerable.Range(0, 0x10000).Select(i => (char)i).ToArray()) + "\ud83d\ude00";

        string escaped = LogText.Escape(all, maxLength: int.MaxValue);

        var runes = escaped.EnumerateRunes().ToList();
        Assert.DoesNotContain(runes, r => r.Value is < 0x20 or (> 0xD7FF and < 0xE000) or 0xFFFE or 0xFFFF);
        Assert.Contains(new Rune(0x1F600), runes);
        Assert.Contains(@"\uFFFE\uFFFF", escaped, StringComparison.Ordinal);
    }

    [Fact]
    public void Escape_truncates_long_text_and_says_how_long_it_was()
    {
        string text = new string('x', 5000);

        string escaped = LogText.Escape(text, maxLength: 100);

        Assert.Equal(new string('x', 100) + "…(5000 characters in all)", escaped);
    }

    [Fact]
    public void Escape_counts_escapes_in_the_limit_and_never_cuts_one_or_a_surrogate_pair()
    {
        Assert.Equal(@"ab\r…(5 characters in all)", LogText.Escape("ab\r\nc", maxLength: 5));
        Assert.Equal("a…(4 characters in all)", LogText.Escape("a😀b", maxLength: 2));
        Assert.Equal("a😀…(4 characters in all)", LogText.Escape("a😀b", maxLength: 3));
    }

    [Fact]
    public void Escape_keeps_text_at_the_limit_whole()
    {
        Assert.Equal("abc", LogText.Escape("abc", maxLength: 3));
    }
}
