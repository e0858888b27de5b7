using System.Diagnostics.Metrics;

namespace BulkDispatch.Producer.Diagnostics;

/// <summary>
/// The meters of publishers made without an <see cref="IMeterFactory"/> (with <c>new</c>, outside a container): one
/// process-wide meter per name, never disposed, so every such publisher reports on the same <c>BulkDispatch.Producer</c> meter.
/// </summary>
internal sealed class ProducerMeterFactory : IMeterFactory
{
    private readonly Dictionary<string, Meter> _meters = new(StringComparer.Ordinal);

    private ProducerMeterFactory()
    {
    }

    public static ProducerMeterFactory Shared { get; } = new();

    public Meter Create(MeterOptions options)
    {
        if (options is null)
        {
            throw new ArgumentNullException(nameof(options));
        }

        lock (_meters)
        {
            if (!_meters.TryGetValue(options.Name, out var meter))
            {
                meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
                _meters.Add(options.Name, meter);
            }

            return meter;
        }
    }

    /// <summary>Nothing: the meters live as long as the process.</summary>
    public void Dispose()
    {
    }
}
