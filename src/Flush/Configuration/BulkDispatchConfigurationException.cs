namespace BulkDispatch.Flush.Configuration;

/// <summary>
/// The settings are missing or malformed; nothing was received. Each error names the setting and
/// shows a valid value. Hosts report it and exit (the CLI with code 2).
/// </summary>
public sealed class BulkDispatchConfigurationException : Exception
{
    /// <summary>Creates the exception from every error found.</summary>
    public BulkDispatchConfigurationException(IReadOnlyList<string> errors)
        : base("BulkDispatch is not configured correctly:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
    {
        Errors = errors;
    }

    /// <summary>Creates the exception from one error.</summary>
    public BulkDispatchConfigurationException(string error)
        : this([error])
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public BulkDispatchConfigurationException()
        : this("BulkDispatch is not configured correctly.")
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public BulkDispatchConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [message];
    }

    /// <summary>Every configuration error found, one sentence each.</summary>
    public IReadOnlyList<string> Errors { get; }
}
