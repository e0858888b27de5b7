using System.Collections.Concurrent;
using BulkDispatch.Flush.Delivery;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>
/// The coordinator with every stage wired, over in-test seams: the report's stop reason and completeness
/// (issue 10: only a drained run is complete), and a dry run that differs only by its sinks.
/// </summary>
public sealed class FlushRunTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(50);
    private readonly FakeTimeProvider _time = new();
    private readonly FakeQueue _queue = new();
    private readonly ScriptedEventApi _api = new();
    private readonly RunCounters _counters = StageKit.Counters();

    [Fact]
    public async Task A_drained_queue_is_a_complete_run_and_every_message_is_deleted()
    {
        _queue.Add(30);

        var report = await RunAsync();

        Assert.Equal(FlushStopReason.QueueEmpty, report.StopReason);
        Assert.True(report.QueueDrained);
        Assert.True(report.Complete, report.ToText());
        Assert.Equal(30, report.MessagesReceived);
        Assert.Equal(30, report.MessagesDeleted);
        Assert.Equal(30, _queue.Deleted.Count);
        Assert.Equal(60, report.VisitorsDelivered);
        Assert.Equal(5, report.ApproximateMessagesLeft);
    }

    [Fact]
    public async Task A_run_cut_short_by_MaxDuration_is_not_complete_even_when_all_it_took_was_delivered()
    {
        _queue.Add(12);
        _queue.HangWhenEmpty = true; // more may come: the long polls only end at the deadline

        var report = await RunAsync(maxDuration: TimeSpan.FromSeconds(30));

        Assert.Equal(FlushStopReason.MaxDuration, report.StopReason);
        Assert.False(report.QueueDrained);
        Assert.False(report.Complete, report.ToText());
        Assert.Equal(12, report.MessagesDeleted);
        Assert.Equal(0, report.TransientFailures);
        Assert.Contains("INCOMPLETE", report.ToText(), StringComparison.Ordinal);
        Assert.Contains("before the queue was drained", report.ToText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_progress_holds_no_bytes_once_everything_received_was_deleted_though_long_polls_go_on()
    {
        _queue.Add(12);
        _queue.HangWhenEmpty = true; // the receivers keep polling (and, before issue 14, their reservations showed as held)
        var progress = new ConcurrentQueue<FlushProgress>();

        var report = await RunAsync(maxDuration: TimeSpan.FromSeconds(30), progress: progress.Enqueue);

        Assert.Equal(12, report.MessagesDeleted);
        var afterwards = progress.Where(p => p.MessagesDeleted == 12).ToList();
        Assert.NotEmpty(afterwards);
        Assert.All(afterwards, p => Assert.Equal(0, p.BufferedBytes));
        Assert.Contains("holding 0 KiB", afterwards[^1].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_queue_answered_empty_after_a_receive_was_abandoned_in_flight_is_not_drained()
    {
        _queue.Add(12);
        _queue.AbandonFirstEmptyReceive = true; // an attempt timed out (SQS may have leased to it), its retry found nothing

        var report = await RunAsync();

        Assert.Equal(FlushStopReason.QueueEmpty, report.StopReason);
        Assert.False(report.QueueDrained);
        Assert.False(report.Complete, report.ToText());
        Assert.Equal(12, report.MessagesDeleted);
        Assert.Equal(1, report.AbandonedReceives);
        Assert.Equal(10, report.MessagesMaybeLeased);
        Assert.Contains("VisibilityTimeout (300 s)", report.LastFailure, StringComparison.Ordinal);
        Assert.Contains(
            "INCOMPLETE: stopped because the queue answered empty, but 1 receive(s) were abandoned in flight: up to 10 messages SQS may have leased to them reappear after the queue's VisibilityTimeout",
            report.ToText(),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_the_host_cancels_is_not_complete()
    {
        _queue.HangWhenEmpty = true;
        using var host = new CancellationTokenSource();
        _queue.OnReceive = () => host.Cancel();

        var report = await RunAsync(host: host.Token);

        Assert.Equal(FlushStopReason.Cancelled, report.StopReason);
        Assert.False(report.Complete);
    }

    [Fact]
    public async Task An_Event_API_that_keeps_failing_stops_the_run_and_nothing_is_deleted()
    {
        _queue.Add(30);
        _api.Answer = DeliveryStatus.Transient;

        var report = await RunAsync();

        Assert.Equal(FlushStopReason.TransientFailure, report.StopReason);
        Assert.False(report.Complete);
        Assert.Equal(0, report.MessagesDeleted);
        Assert.Empty(_queue.Deleted);
        Assert.StartsWith("Event API request failed", report.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dry_run_sends_and_deletes_nothing_and_makes_every_message_visible_at_the_end()
    {
        _queue.Add(12);

        var report = await RunAsync(dryRun: true);

        Assert.True(report.DryRun);
        Assert.True(report.Complete, report.ToText());
        Assert.Empty(_api.Requests);
        Assert.Empty(_queue.Deleted);
        Assert.NotEmpty(report.PlannedRequests);
        Assert.Equal(24, report.PlannedRequests.Sum(p => p.Visitors));
        var released = _queue.VisibilityCalls.Where(c => c.Seconds == 0).SelectMany(c => c.Handles);
        Assert.Equal(_queue.Handed.Order(), released.Order());
    }

    [Fact]
    public async Task A_configuration_error_mid_run_stops_every_stage_deletes_nothing_and_is_rethrown()
    {
        _queue.Add(30);
        _queue.HangWhenEmpty = true;
        _queue.DeleteError = new BulkDispatchConfigurationException("BulkDispatch__KeyVault__AccessKeyIdSecret: the vault refused to read the secret (403)");

        var started = _time.GetUtcNow();

        var error = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => RunAsync(maxDuration: TimeSpan.FromMinutes(10)));

        Assert.StartsWith("BulkDispatch__KeyVault__AccessKeyIdSecret:", Assert.Single(error.Errors), StringComparison.Ordinal);
        Assert.Empty(_queue.Deleted);
        Assert.True(_time.GetUtcNow() - started < TimeSpan.FromMinutes(1), "the run waited for its deadline instead of stopping");

        // Nothing of the run goes on behind the error: no lease is extended any more, so the messages come back.
        int calls = _queue.VisibilityCalls.Count;
        for (int i = 0; i < 40; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            await Task.Delay(1);
        }

        Assert.Equal(calls, _queue.VisibilityCalls.Count);
    }

    private Task<FlushReport> RunAsync(TimeSpan? maxDuration = null, bool dryRun = false, Action<FlushProgress>? progress = null, CancellationToken host = default)
    {
        var settings = new RunSettings(
            ReceiveConcurrency: 3, ReceiveWaitTime: TimeSpan.FromSeconds(2), MaxMessagesPerRun: 0,
            MaxBufferedBytes: 64L * 1024 * 1024, BatchLinger: TimeSpan.FromSeconds(10), SendConcurrency: 2,
            MaxDuration: maxDuration ?? TimeSpan.FromMinutes(4), SendGrace: TimeSpan.FromSeconds(45),
            VisibilityTimeoutSeconds: 300, MaxMessageBytes: 1024 * 1024, Admission: StageKit.Rules(), DryRun: dryRun, RunId: StageKit.RunId);
        var run = new FlushRun(new QueueSeams(_queue, _queue, _queue, _queue, _queue), _api, settings, _time, _counters, StageKit.Log) { Progress = progress };
        return Clock.RunAsync(_time, run.RunAsync(_time.GetUtcNow(), _time.GetTimestamp(), host), Step);
    }

    /// <summary>Every door to the queue at once: a backlog to receive, and records of deletes, visibility changes and dead letters.</summary>
    private sealed class FakeQueue : IMessageSource, IMessageDeleter, IVisibilityChanger, IDeadLetterQueue, IQueueDepth
    {
        private readonly ConcurrentQueue<ReceivedMessage> _backlog = new();
        private int _abandonOnce;

        public ConcurrentBag<string> Handed { get; } = [];

        public ConcurrentBag<string> Deleted { get; } = [];

        public ConcurrentQueue<(List<string> Handles, int Seconds)> VisibilityCalls { get; } = new();

        public bool HangWhenEmpty { get; set; }

        public Action? OnReceive { get; set; }

        /// <summary>The first receive that finds nothing first reports an attempt abandoned in flight (as the gateway does after a timeout).</summary>
        public bool AbandonFirstEmptyReceive { get => _abandonOnce != 0; set => _abandonOnce = value ? 1 : 0; }

        /// <summary>Thrown by every delete (e.g. the credentials' configuration error when they are read again).</summary>
        public Exception? DeleteError { get; set; }

        public void Add(int count)
        {
            for (int i = 0; i < count; i++)
            {
                _backlog.Enqueue(StageKit.Received(StageKit.Message(StageKit.Batch($"v{i}a", $"v{i}b")), i));
            }
        }

        public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, int waitSeconds, Action abandoned, CancellationToken cancellationToken)
        {
            OnReceive?.Invoke();
            var messages = new List<ReceivedMessage>();
            while (messages.Count < maxMessages && _backlog.TryDequeue(out var m))
            {
                messages.Add(m);
                Handed.Add(m.ReceiptHandle);
            }

            if (messages.Count == 0 && Interlocked.Exchange(ref _abandonOnce, 0) == 1)
            {
                abandoned();
            }

            if (messages.Count == 0 && HangWhenEmpty)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return messages;
        }

        public Task<IReadOnlyList<EntryResult>> DeleteAsync(IReadOnlyList<string> receiptHandles, CancellationToken cancellationToken)
        {
            Assert.InRange(receiptHandles.Count, 1, 10);
            if (DeleteError is not null)
            {
                throw DeleteError;
            }

            foreach (var h in receiptHandles)
            {
                Deleted.Add(h);
            }

            return Task.FromResult<IReadOnlyList<EntryResult>>(receiptHandles.Select(_ => EntryResult.Done).ToArray());
        }

        public Task<IReadOnlyList<EntryResult>> ChangeVisibilityAsync(IReadOnlyList<string> receiptHandles, int visibilitySeconds, CancellationToken cancellationToken)
        {
            VisibilityCalls.Enqueue(([.. receiptHandles], visibilitySeconds));
            return Task.FromResult<IReadOnlyList<EntryResult>>(receiptHandles.Select(_ => EntryResult.Done).ToArray());
        }

        public string Name => "dlq";

        public ValueTask<int> MaxMessageBytesAsync(CancellationToken cancellationToken) => ValueTask.FromResult(1024 * 1024);

        public Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetterCopy> batch, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<EntryResult>>(batch.Select(_ => EntryResult.Done).ToArray());

        public Task<long?> ApproximateDepthAsync(CancellationToken cancellationToken) => Task.FromResult<long?>(5);
    }
}
