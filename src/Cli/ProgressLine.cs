using BulkDispatch.Flush.Reporting;

namespace BulkDispatch.Cli;

/// <summary>
/// Progress on standard error: one line rewritten in place on a terminal, a plain line every few
/// seconds when redirected (logs, CI). Standard output stays for the report.
/// </summary>
internal sealed class ProgressLine
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private readonly Lock _gate = new();
    private DateTime _lastPlain = DateTime.MinValue;
    private bool _written;

    /// <summary>Shows one snapshot.</summary>
    public void Show(FlushProgress progress)
    {
        lock (_gate)
        {
            if (_terminal)
            {
                string text = progress.ToString();
                int width = Math.Max(20, SafeWidth() - 1);
                Console.Error.Write("\r" + (text.Length > width ? text[..width] : text.PadRight(width)));
                _written = true;
            }
            else if (DateTime.UtcNow - _lastPlain >= PlainInterval)
            {
                _lastPlain = DateTime.UtcNow;
                Console.Error.WriteLine("progress: " + progress);
            }
        }
    }

    /// <summary>Clears the in-place line before the report is printed.</summary>
    public void Done()
    {
        lock (_gate)
        {
            if (_terminal && _written)
            {
                Console.Error.Write("\r" + new string(' ', Math.Max(20, SafeWidth() - 1)) + "\r");
                _written = false;
            }
        }
    }

    private static int SafeWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 120;
        }
        catch (IOException)
        {
            return 120;
        }
    }
}
