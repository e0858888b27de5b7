namespace BulkDispatch.Sandbox;

/// <summary>Keeps the last lines of a child's output, so a failure message can quote them.</summary>
internal sealed class BoundedLog
{
    private const int MaxChars = 16 * 1024;
    private readonly Queue<string> _lines = new();
    private readonly Lock _gate = new();
    private int _chars;

    public void Add(string line)
    {
        lock (_gate)
        {
            _lines.Enqueue(line);
            _chars += line.Length + 1;
            while (_chars > MaxChars && _lines.Count > 1)
            {
                _chars -= _lines.Dequeue().Length + 1;
            }
        }
    }

    /// <summary>The last non-empty line, or <see langword="null"/> when there was no output.</summary>
    public string? LastLine()
    {
        lock (_gate)
        {
            return _lines.LastOrDefault(l => !string.IsNullOrWhiteSpace(l))?.Trim();
        }
    }

    public bool Contains(string text)
    {
        lock (_gate)
        {
            return _lines.Any(l => l.Contains(text, StringComparison.Ordinal));
        }
    }

    public string Describe()
    {
        var text = ToString();
        return text.Length == 0 ? " (no output)" : Environment.NewLine + "Output:" + Environment.NewLine + text;
    }

    public override string ToString()
    {
        lock (_gate)
        {
            return string.Join(Environment.NewLine, _lines);
        }
    }
}
