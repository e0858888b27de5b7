using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;

namespace BulkDispatch.Flush;

/// <summary>How <see cref="FlushServiceCollectionExtensions.AddBulkDispatchFlush"/> registers the flush.</summary>
public sealed class FlushRegistrationOptions
{
    /// <summary>
    /// Validate every <c>BulkDispatch:*</c> setting while a generic host starts, so a bad one stops the start. Off by
    /// default: the settings are validated when each run starts, and <see cref="FlushEngine.RunAsync(CancellationToken)"/>
    /// throws <see cref="BulkDispatchConfigurationException"/> naming every bad one. Leave it off under Azure Functions:
    /// a worker that throws while starting is restarted in a loop and no run ever reports why.
    /// </summary>
    public bool ValidateOnStart { get; set; }
}
