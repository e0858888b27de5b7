using BulkDispatch.Flush.Reporting;

namespace BulkDispatch.Cli;

/// <summary>
/// Progress on standard error (standard output keeps the report, and stays valid JSON with <c>--json</c>):
/// one line rewritten in place on a terminal, a plain line every few seconds when redirected (logs, CI).
/// </summary>
internal sealed class ProgressLine
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private readonly Lock _gate = new();
    private DateTime _lastPlain = DateTime.MinValue;
    private int _width;

    /// <summary>Shows a flush run's counts.</summary>
    public void Show(FlushProgress progress) => Show(progress.ToString());

    /// <summary>Shows one snapshot line.</summary>
    public void Show(string line)
    {
        lock (_gate)
        {
            if (_terminal)
            {
                int max = Math.Max(20, SafeWidth() - 1);
                string shown = line.Length > max ? line[..max] : line;
                Console.Error.Write("\r" + shown.PadRight(_width));
                _width = shown.Length;
            }
            else if (DateTime.UtcNow - _lastPlain >= PlainInterval)
            {
                _lastPlain = DateTime.UtcNow;
                Console.Error.WriteLine("progress: " + line);
            }
        }
    }

    /// <summary>A message of its own line, below the progress line.</summary>
    public void Note(string message)
    {
        lock (_gate)
        {
            ClearLine();
            Console.Error.WriteLine(message);
        }
    }

    /// <summary>Clears the in-place line before the report is printed.</summary>
    public void Done()
    {
        lock (_gate)
        {
            ClearLine();
        }
    }

    private void ClearLine()
    {
        if (_terminal && _width > 0)
        {
            Console.Error.Write("\r" + new string(' ', _width) + "\r");
            _width = 0;
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
