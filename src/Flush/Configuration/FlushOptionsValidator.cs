using BulkDispatch.Core.Configuration;
using Microsoft.Extensions.Configuration;

namespace BulkDispatch.Flush.Configuration;

/// <summary>The <c>BulkDispatch__Flush__*</c> settings' rules: each within what SQS, the Event API and a host's timeout allow.</summary>
internal sealed class FlushOptionsValidator(IConfiguration? configuration) : SettingsValidator<FlushOptions>(configuration)
{
    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        [nameof(FlushOptions.MaxDuration)] = "00:04:00",
        [nameof(FlushOptions.SendGrace)] = "00:00:45",
        [nameof(FlushOptions.MaxRequestBytes)] = "3000000",
        [nameof(FlushOptions.ReceiveConcurrency)] = "8",
        [nameof(FlushOptions.ReceiveWaitTime)] = "00:00:02",
        [nameof(FlushOptions.ReceiveTimeoutMargin)] = "00:00:10",
        [nameof(FlushOptions.SendConcurrency)] = "4",
        [nameof(FlushOptions.MaxBufferedBytes)] = "33554432",
        [nameof(FlushOptions.MaxMessagesPerRun)] = "100000",
        [nameof(FlushOptions.BatchLinger)] = "00:00:10",
    };

    protected override IEnumerable<(string Section, Type Type, IReadOnlyDictionary<string, string> Examples)> Sources =>
        [(FlushOptions.Section, typeof(FlushOptions), Examples)];

    protected override IEnumerable<string> Rules(FlushOptions o)
    {
        if (o.MaxDuration < TimeSpan.FromSeconds(1) || o.MaxDuration > TimeSpan.FromHours(11))
        {
            yield return $"BulkDispatch__Flush__MaxDuration: {o.MaxDuration} is outside 00:00:01 to 11:00:00; keep it under the host's functionTimeout. Example: {Examples[nameof(o.MaxDuration)]}.";
        }

        if (o.SendGrace < TimeSpan.Zero || o.SendGrace > TimeSpan.FromHours(1))
        {
            yield return $"BulkDispatch__Flush__SendGrace: {o.SendGrace} is outside 00:00:00 to 01:00:00. Example: {Examples[nameof(o.SendGrace)]}.";
        }

        if (o.MaxRequestBytes is < 1024 or > 3_500_000)
        {
            yield return $"BulkDispatch__Flush__MaxRequestBytes: {o.MaxRequestBytes} is outside 1024 to 3500000 (the Event API takes at most 3.5 MB). Example: {Examples[nameof(o.MaxRequestBytes)]}.";
        }

        if (o.ReceiveConcurrency is < 1 or > 64)
        {
            yield return $"BulkDispatch__Flush__ReceiveConcurrency: {o.ReceiveConcurrency} is outside 1 to 64. Example: {Examples[nameof(o.ReceiveConcurrency)]}.";
        }

        if (o.ReceiveWaitTime < TimeSpan.FromSeconds(1) || o.ReceiveWaitTime > TimeSpan.FromSeconds(20))
        {
            yield return $"BulkDispatch__Flush__ReceiveWaitTime: {o.ReceiveWaitTime} is outside 00:00:01 to 00:00:20 (the SQS long-poll limits). Example: {Examples[nameof(o.ReceiveWaitTime)]}.";
        }

        if (o.ReceiveTimeoutMargin < TimeSpan.FromSeconds(1) || o.ReceiveTimeoutMargin > TimeSpan.FromMinutes(2))
        {
            yield return $"BulkDispatch__Flush__ReceiveTimeoutMargin: {o.ReceiveTimeoutMargin} is outside 00:00:01 to 00:02:00. Example: {Examples[nameof(o.ReceiveTimeoutMargin)]}.";
        }

        if (o.SendConcurrency is < 1 or > 64)
        {
            yield return $"BulkDispatch__Flush__SendConcurrency: {o.SendConcurrency} is outside 1 to 64. Example: {Examples[nameof(o.SendConcurrency)]}.";
        }

        if ((o.MaxRequestBytes <= 3_500_000 && o.MaxBufferedBytes < 2L * o.MaxRequestBytes) || o.MaxBufferedBytes > 8L * 1024 * 1024 * 1024)
        {
            yield return $"BulkDispatch__Flush__MaxBufferedBytes: {o.MaxBufferedBytes} must be at least twice MaxRequestBytes ({2L * o.MaxRequestBytes}) and at most 8 GiB. Example: {Examples[nameof(o.MaxBufferedBytes)]}.";
        }

        if (o.MaxMessagesPerRun < 0)
        {
            yield return $"BulkDispatch__Flush__MaxMessagesPerRun: {o.MaxMessagesPerRun} is negative; 0 means no limit. Example: {Examples[nameof(o.MaxMessagesPerRun)]}.";
        }

        if (o.BatchLinger < TimeSpan.FromMilliseconds(100) || o.BatchLinger > TimeSpan.FromMinutes(10))
        {
            yield return $"BulkDispatch__Flush__BatchLinger: {o.BatchLinger} is outside 00:00:00.1 to 00:10:00. Example: {Examples[nameof(o.BatchLinger)]}.";
        }
    }
}
