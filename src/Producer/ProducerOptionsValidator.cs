using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Core.Wire;
using Microsoft.Extensions.Configuration;

namespace BulkDispatch.Producer;

/// <summary>The producer's settings' rules: the queue settings it shares with the flush, and its own buffer and pump limits.</summary>
/// <param name="configuration">The configuration the options bind from; null for options made in code.</param>
internal sealed class ProducerOptionsValidator(IConfiguration? configuration) : SettingsValidator<ProducerOptions>(configuration)
{
    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        [nameof(ProducerOptions.BufferCapacity)] = "100000",
        [nameof(ProducerOptions.BufferBytes)] = "67108864",
        [nameof(ProducerOptions.OverflowPolicy)] = "Block",
        [nameof(ProducerOptions.BlockTimeout)] = "00:00:00.100",
        [nameof(ProducerOptions.Linger)] = "00:00:00.050",
        [nameof(ProducerOptions.MaxMessageBytes)] = "262144",
        [nameof(ProducerOptions.WireFormatVersion)] = "1",
        [nameof(ProducerOptions.SendConcurrency)] = "4",
        [nameof(ProducerOptions.RetryBaseDelay)] = "00:00:00.200",
        [nameof(ProducerOptions.RetryMaxDelay)] = "00:00:15",
        [nameof(ProducerOptions.DisposeTimeout)] = "00:00:10",
        [nameof(ProducerOptions.DropWarningInterval)] = "00:00:30",
    };

    protected override IEnumerable<(string Section, Type Type, IReadOnlyDictionary<string, string> Examples)> Sources =>
        [(SqsOptions.Section, typeof(SqsOptions), SqsOptionsValidator.Examples), (ProducerOptions.Section, typeof(ProducerOptions), Examples)];

    protected override IEnumerable<string> Rules(ProducerOptions o)
    {
        var errors = new List<string>(SqsOptionsValidator.Check(o.Sqs ?? new SqsOptions()));
        if (o.BufferCapacity is < 1 or > 10_000_000)
        {
            errors.Add($"BulkDispatch__Producer__BufferCapacity: {o.BufferCapacity} is outside 1 to 10000000. Example: {Examples[nameof(o.BufferCapacity)]}.");
        }

        if (o.BufferBytes < 1024 * 1024)
        {
            errors.Add($"BulkDispatch__Producer__BufferBytes: {o.BufferBytes} is under 1048576 (1 MiB). Example: {Examples[nameof(o.BufferBytes)]}.");
        }

        if (o.BlockTimeout < TimeSpan.Zero || o.BlockTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add($"BulkDispatch__Producer__BlockTimeout: {o.BlockTimeout} is outside 00:00:00 to 00:01:00. Example: {Examples[nameof(o.BlockTimeout)]}.");
        }

        if (o.Linger < TimeSpan.Zero || o.Linger > TimeSpan.FromSeconds(10))
        {
            errors.Add($"BulkDispatch__Producer__Linger: {o.Linger} is outside 00:00:00 to 00:00:10. Example: {Examples[nameof(o.Linger)]}.");
        }

        if (o.MaxMessageBytes != 0 && o.MaxMessageBytes is < 1024 or > SqsLimits.MaxMessageBytes)
        {
            errors.Add($"BulkDispatch__Producer__MaxMessageBytes: {o.MaxMessageBytes} is outside 1024 to 1048576 (0 reads the queue's limit). Example: {Examples[nameof(o.MaxMessageBytes)]}.");
        }

        if (o.WireFormatVersion is not (WireFormat.CurrentVersion or WireFormat.CompressedVersion))
        {
            errors.Add($"BulkDispatch__Producer__WireFormatVersion: {o.WireFormatVersion} is not a version this producer writes: 2 (compressed, the default) or 1 (plain JSON, while a flush that reads only version 1 drains the queue). Example: {Examples[nameof(o.WireFormatVersion)]}.");
        }

        if (o.SendConcurrency is < 1 or > 64)
        {
            errors.Add($"BulkDispatch__Producer__SendConcurrency: {o.SendConcurrency} is outside 1 to 64. Example: {Examples[nameof(o.SendConcurrency)]}.");
        }

        if (o.RetryBaseDelay <= TimeSpan.Zero || o.RetryMaxDelay < o.RetryBaseDelay)
        {
            errors.Add($"BulkDispatch__Producer__RetryBaseDelay / RetryMaxDelay: {o.RetryBaseDelay} / {o.RetryMaxDelay} must be positive and ordered. Example: {Examples[nameof(o.RetryBaseDelay)]} / {Examples[nameof(o.RetryMaxDelay)]}.");
        }

        if (o.DisposeTimeout < TimeSpan.Zero || o.DisposeTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"BulkDispatch__Producer__DisposeTimeout: {o.DisposeTimeout} is outside 00:00:00 to 00:10:00. Example: {Examples[nameof(o.DisposeTimeout)]}.");
        }

        return errors;
    }
}
