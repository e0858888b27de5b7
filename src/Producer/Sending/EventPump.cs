using System.Threading.Channels;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Producer.Buffering;
using BulkDispatch.Producer.Diagnostics;

namespace BulkDispatch.Producer.Sending;

/// <summary>
/// The background loop between the buffer and SQS: resolves the queue's limits once, then reads events, lets a batch
/// fill for up to <c>Linger</c>, packs events into messages and hands each full (or lingered) batch to the sender, at
/// most <c>SendConcurrency</c> batches in flight. A flush marker completes once every event before it is settled.
/// Runs until the buffer is completed and empty, or until <see cref="Stop"/>: then what it still reads is dropped.
/// </summary>
internal sealed class EventPump : IDisposable
{
    private readonly ChannelReader<PendingEvent> _reader;
    private readonly ProducerOptions _options;
    private readonly SqsGateway _gateway;
    private readonly SqsRetryPolicy _retry;
    private readonly EventAdmission _admission;
    private readonly EventOutcomes _outcomes;
    private readonly ProducerMetrics _metrics;
    private readonly ProducerWarnings _warnings;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _sendSlots;
    private readonly List<Task> _inFlight = [];

    public EventPump(
        ChannelReader<PendingEvent> reader, ProducerOptions options, SqsGateway gateway, EventAdmission admission,
        EventOutcomes outcomes, ProducerMetrics metrics, ProducerWarnings warnings, TimeProvider time)
    {
        (_reader, _options, _gateway, _admission, _outcomes, _metrics, _warnings, _time) = (reader, options, gateway, admission, outcomes, metrics, warnings, time);
        _sendSlots = new SemaphoreSlim(options.SendConcurrency, options.SendConcurrency);

        // Retry until SQS takes the entries: the buffer's bound, not a retry count, limits what is held.
        _retry = SqsRetryPolicy.UntilCancelled(options.RetryBaseDelay, options.RetryMaxDelay, retry =>
        {
            // While SQS is unreachable the pump waits for a send slot and never reaches its own check.
            warnings.WarnAboutDrops(force: false);
            metrics.SendFailed();
            warnings.SendRetrying(retry.Exception, retry.Attempt, retry.Delay);
        });
        Completion = Task.Run(RunAsync);
    }

    /// <summary>Completes when the pump has ended; every event it read is settled by then, except those of a batch cut off by <see cref="Stop"/>.</summary>
    public Task Completion { get; }

    /// <summary>Ends the sends' retries and the pump now: what is not sent yet is dropped.</summary>
    public void Stop() => _stop.Cancel();

    public void Dispose()
    {
        _stop.Dispose();
        _sendSlots.Dispose();
    }

    private async Task RunAsync()
    {
        try
        {
            var queue = await QueueLimits.ResolveAsync(_gateway, _options, _retry, _warnings, _stop.Token).ConfigureAwait(false);
            _admission.MaxMessageBytes = queue.MaxMessageBytes;
            using var packer = new MessagePacker(queue, _options.WireFormatVersion);
            var sender = new BatchSender(packer, _gateway, queue.QueueUrl, _retry, _outcomes, _metrics, _warnings);
            while (await _reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                await LingerAsync().ConfigureAwait(false);
                while (_reader.TryRead(out var item))
                {
                    if (item.Marker is { } marker)
                    {
                        // Everything before the marker is in a batch: send it and wait for every send so far.
                        await SendPackedAsync(sender, packer).ConfigureAwait(false);
                        await WaitForSendsAsync().ConfigureAwait(false);
                        marker.TrySetResult(true);
                        continue;
                    }

                    await AddAsync(sender, packer, item).ConfigureAwait(false);
                }

                await SendPackedAsync(sender, packer).ConfigureAwait(false);
                _warnings.WarnAboutDrops(force: false);
            }

            await WaitForSendsAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            await WaitForSendsAsync().ConfigureAwait(false);
            DropUnread();
        }
        finally
        {
            _warnings.WarnAboutDrops(force: true);
        }
    }

    /// <summary>After the first event of a batch, waits up to the linger time for the batch to fill.</summary>
    private async Task LingerAsync()
    {
        if (_options.Linger > TimeSpan.Zero && _reader.Count < 100)
        {
            await TimeCompat.Delay(_time, _options.Linger, _stop.Token).ConfigureAwait(false);
        }
    }

    private async Task AddAsync(BatchSender sender, MessagePacker packer, PendingEvent item)
    {
        var packed = packer.Add(item);
        switch (packed.Refusal)
        {
            case RefusalKind.InvalidJson:
                _outcomes.Refused(item.Bytes, 1, RefusalKind.InvalidJson);
                _warnings.RefusedInvalidJson(item.Event!.Url, packed.Error ?? "");
                return;
            case RefusalKind.TooLarge:
                _outcomes.Refused(item.Bytes, 1, RefusalKind.TooLarge);
                _warnings.RefusedTooLarge(packed.EncodedBytes, _admission.MaxMessageBytes);
                return;
        }

        await SendAsync(sender, packed.Full).ConfigureAwait(false);
    }

    /// <summary>Starts sending everything packed so far.</summary>
    private async Task SendPackedAsync(BatchSender sender, MessagePacker packer)
    {
        while (packer.Take() is { } batch)
        {
            await SendAsync(sender, batch).ConfigureAwait(false);
        }
    }

    /// <summary>Starts sending a batch once a send slot is free (at most SendConcurrency at once).</summary>
    private async Task SendAsync(BatchSender sender, OutgoingBatch? batch)
    {
        if (batch is null)
        {
            return;
        }

        await _sendSlots.WaitAsync(_stop.Token).ConfigureAwait(false);
        var task = Task.Run(async () =>
        {
            try
            {
                await sender.SendAsync(batch.Messages, _stop.Token).ConfigureAwait(false);
            }
            finally
            {
                _sendSlots.Release();
            }
        });
        lock (_inFlight)
        {
            _inFlight.RemoveAll(t => t.IsCompleted);
            _inFlight.Add(task);
        }
    }

    private async Task WaitForSendsAsync()
    {
        Task[] running;
        lock (_inFlight)
        {
            running = [.. _inFlight];
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <summary>Stopped: the events still in the channel are dropped and the flushes waiting on markers are released.</summary>
    private void DropUnread()
    {
        while (_reader.TryRead(out var item))
        {
            if (item.Event is not null)
            {
                _outcomes.Dropped(item.Bytes, 1, DropReason.DisposeDeadline);
            }

            item.Marker?.TrySetResult(false);
        }
    }
}
