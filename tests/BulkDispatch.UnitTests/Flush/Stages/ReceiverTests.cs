using System.Collections.Concurrent;
using System.Threading.Channels;
using Amazon.SQS.Model;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Reporting;
using BulkDispatch.UnitTests.Core.Sqs;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>Receiving: why it stops (every reason), what it holds of the memory budget, and that a failed receive ends the run.</summary>
public sealed class ReceiverTests
{
    private const int MaxMessageBytes = 1000;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(2);

    private readonly FakeTimeProvider _time = new();
    private readonly RunCounters _counters = StageKit.Counters();
    private readonly ScriptedSource _source = new();
    private readonly Channel<InFlightMessage> _output = Channel.CreateUnbounded<InFlightMessage>();
    private LedgerKit _kit = new();

    [Fact]
    public async Task When_every_loop_is_answered_empty_the_queue_is_drained()
    {
        _source.Add(25);
        using var deadlines = StageKit.Deadlines(_time);
        var receiver = Receiver(deadlines, loops: 3);

        await receiver.RunAsync(_output.Writer);

        Assert.Equal(FlushStopReason.QueueEmpty, receiver.StopReason);
        var received = StageKit.Drain(_output.Reader);
        Assert.Equal(25, received.Count);
        Assert.Equal(25, _counters.MessagesReceived);
        Assert.Equal(received.Sum(m => m.Bytes), _kit.Budget.Used); // the real sizes, the reservations returned
        Assert.False(deadlines.GaveUp);
    }

    [Fact]
    public async Task MaxMessagesPerRun_stops_parallel_loops_at_exactly_the_limit()
    {
        _source.Add(100);
        using var deadlines = StageKit.Deadlines(_time);
        var receiver = Receiver(deadlines, loops: 3, maxMessages: 23); // not a multiple of 10

        await receiver.RunAsync(_output.Writer);

        Assert.Equal(FlushStopReason.MessageLimit, receiver.StopReason);
        Assert.Equal(23, StageKit.Drain(_output.Reader).Count);
        Assert.Equal(77, _source.Left);
    }

    [Fact]
    public async Task MaxDuration_ends_the_long_polls_and_gives_every_reservation_back()
    {
        _source.HangWhenEmpty = true;
        using var deadlines = StageKit.Deadlines(_time, maxDuration: TimeSpan.FromSeconds(5));
        var receiver = Receiver(deadlines, loops: 2);
        var running = receiver.RunAsync(_output.Writer);
        await _source.StartedAsync(2);

        _time.Advance(TimeSpan.FromSeconds(5));
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(FlushStopReason.MaxDuration, receiver.StopReason);
        Assert.Equal(0, _kit.Budget.Used);
        Assert.Equal(0, _counters.TransientFailures);
        Assert.False(deadlines.GaveUp);
    }

    [Fact]
    public async Task The_host_s_cancel_ends_receiving_as_Cancelled()
    {
        _source.HangWhenEmpty = true;
        using var host = new CancellationTokenSource();
        using var deadlines = StageKit.Deadlines(_time, host: host.Token);
        var receiver = Receiver(deadlines, loops: 2);
        var running = receiver.RunAsync(_output.Writer);
        await _source.StartedAsync(2);

        await host.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(FlushStopReason.Cancelled, receiver.StopReason);
        Assert.Equal(0, _kit.Budget.Used);
        Assert.False(deadlines.GaveUp);
    }

    [Fact]
    public async Task A_receive_that_failed_for_good_gives_up_the_run()
    {
        _source.Script.Enqueue(ScriptedSource.Fail());
        _source.Add(5); // never reached
        using var deadlines = StageKit.Deadlines(_time);

        await Receiver(deadlines, loops: 1).RunAsync(_output.Writer);

        Assert.Equal(1, _source.Calls); // the source's own retries are behind this one call
        Assert.True(deadlines.GaveUp);
        Assert.Equal(1, _counters.TransientFailures);
        Assert.Contains("SQS receives keep failing: a receive failed (HttpRequestException: connection refused)", _counters.LastFailure, StringComparison.Ordinal);
        Assert.Empty(StageKit.Drain(_output.Reader));
        Assert.Equal(0, _kit.Budget.Used);
    }

    [Fact]
    public async Task A_fatal_refusal_gives_up_at_once()
    {
        _source.Script.Enqueue(ScriptedSource.Fail(fatal: true));
        using var deadlines = StageKit.Deadlines(_time);

        await Receiver(deadlines, loops: 1).RunAsync(_output.Writer);

        Assert.Equal(1, _source.Calls);
        Assert.True(deadlines.GaveUp);
        Assert.Contains("SQS refused the receive (AccessDenied)", _counters.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_receive_first_reserves_the_worst_case_and_asks_for_no_more_than_the_budget_holds()
    {
        _kit = new LedgerKit(budgetBytes: 3 * MaxMessageBytes);
        _source.Add(5, bodyBytes: 100);
        using var deadlines = StageKit.Deadlines(_time);

        await Receiver(deadlines, loops: 1).RunAsync(_output.Writer);

        var first = _source.Asks.First();
        Assert.Equal(3, first.Asked);
        Assert.Equal(3 * MaxMessageBytes, first.BudgetUsed);
        Assert.Equal(5 * 100, _kit.Budget.Used);
    }

    [Fact]
    public async Task A_full_budget_pauses_receiving_until_a_held_message_is_forgotten()
    {
        _kit = new LedgerKit(budgetBytes: MaxMessageBytes);
        _source.Add(2, bodyBytes: MaxMessageBytes);
        using var deadlines = StageKit.Deadlines(_time);
        var running = Receiver(deadlines, loops: 1).RunAsync(_output.Writer);

        var first = await _output.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        _kit.Ledger.Forget(first); // as when it was deleted
        var second = await _output.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        _kit.Ledger.Forget(second);
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        // Had the receiver asked while the first message filled the budget, that ask would have seen 2,000 bytes taken.
        Assert.All(_source.Asks, a => Assert.True(a.BudgetUsed <= MaxMessageBytes, $"asked with {a.BudgetUsed} bytes taken"));
        Assert.Equal(3, _source.Calls); // two messages, then the empty answer
    }

    [Fact]
    public async Task After_a_compressed_message_receives_reserve_what_its_payload_weighs_not_just_MaxMessageBytes()
    {
        const long budgetBytes = 60_000;
        _kit = new LedgerKit(budgetBytes);
        string compressed = StageKit.Compressed([.. Enumerable.Range(0, 40).Select(i => StageKit.Batch($"v{i}"))]);
        Assert.True(compressed.Length < MaxMessageBytes && StageKit.DeclaredSize(compressed) > 10 * MaxMessageBytes, "a small message holding a large payload");
        _source.Script.Enqueue(_ => Task.FromResult<IReadOnlyList<ReceivedMessage>>([StageKit.Received(compressed, 0)]));
        _source.Add(30);
        using var deadlines = StageKit.Deadlines(_time);

        await Receiver(deadlines, loops: 1).RunAsync(_output.Writer);

        var first = StageKit.Drain(_output.Reader)[0];
        Assert.Equal(compressed.Length + StageKit.DeclaredSize(compressed), first.Bytes); // its text and its payload to be
        var asks = _source.Asks.ToList();
        Assert.Equal(10, asks[0].Asked);
        Assert.Equal((int)((budgetBytes - first.Bytes) / first.Bytes), asks[1].Asked); // not 10 of MaxMessageBytes each
    }

    [Fact]
    public async Task A_receive_abandoned_on_its_timeout_and_then_answered_empty_does_not_drain_the_queue()
    {
        // SQS (here: the AWS client answering for it) hangs on the first attempt, which may yet have leased up to 10
        // messages, then answers empty; the real gateway abandons the attempt after wait + margin and retries.
        int calls = 0;
        using var sqs = new ScriptedSqs
        {
            OnReceive = async token =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    await Task.Delay(Timeout.Infinite, token);
                }

                return new ReceiveMessageResponse();
            },
        };
        var source = new SqsQueueClient(
            new SqsGateway(sqs, new SqsGatewayOptions { TimeProvider = _time }), "http://127.0.0.1:9/000000000000/q", TimeSpan.FromSeconds(10), SqsQueueClient.ReceiveRetry(StageKit.Log));
        using var deadlines = StageKit.Deadlines(_time);
        var receiver = new Receiver(source, _kit.Ledger, _kit.Budget, new ReceiveSettings(1, Wait, MaxMessageBytes, 30, 0), deadlines, _counters, _time);
        var running = receiver.RunAsync(_output.Writer);
        while (Volatile.Read(ref sqs.Receives) < 1)
        {
            await Task.Delay(5);
        }

        _time.Advance(Wait + TimeSpan.FromSeconds(10)); // the attempt's timeout
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(2, sqs.Receives);
        Assert.Equal(FlushStopReason.QueueEmpty, receiver.StopReason); // every loop was answered empty ...
        Assert.Equal(1, _counters.AbandonedReceives); // ... but the first answer never came
        Assert.Equal(10, _counters.MessagesMaybeLeased);
        Assert.Equal(0, _counters.TransientFailures); // the receive itself succeeded on its retry
        Assert.Contains("up to 10 messages may reappear after the queue's VisibilityTimeout (30 s)", _counters.LastFailure, StringComparison.Ordinal);
        Assert.False(deadlines.GaveUp);
    }

    private Receiver Receiver(RunDeadlines deadlines, int loops, int maxMessages = 0)
    {
        var budget = _kit.Budget;
        _source.BudgetUsed = () => budget.Used;
        return new Receiver(
            _source, _kit.Ledger, budget, new ReceiveSettings(loops, Wait, MaxMessageBytes, 30, maxMessages), deadlines, _counters, _time);
    }

    /// <summary>A queue stand-in: scripted answers first, then its backlog, then empty answers (or a long poll that never ends).</summary>
    private sealed class ScriptedSource : IMessageSource
    {
        private readonly ConcurrentQueue<ReceivedMessage> _backlog = new();
        private readonly Channel<int> _started = Channel.CreateUnbounded<int>();
        private int _calls;
        private int _next;

        public ConcurrentQueue<Func<CancellationToken, Task<IReadOnlyList<ReceivedMessage>>>> Script { get; } = new();

        public ConcurrentQueue<(int Asked, long BudgetUsed)> Asks { get; } = new();

        public Func<long> BudgetUsed { get; set; } = () => 0;

        public bool HangWhenEmpty { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public int Left => _backlog.Count;

        public static Func<CancellationToken, Task<IReadOnlyList<ReceivedMessage>>> Fail(bool fatal = false) =>
            _ => throw (fatal
                ? new QueueCallException("no", "AccessDenied", fatal: true, inner: null)
                : new QueueCallException("connection refused", "HttpRequestException", fatal: false, inner: null));

        public void Add(int count, int bodyBytes = 50)
        {
            for (int i = 0; i < count; i++)
            {
                int n = Interlocked.Increment(ref _next);
                _backlog.Enqueue(StageKit.Received(new string('x', bodyBytes), n));
            }
        }

        /// <summary>Waits until the <paramref name="count"/>th receive has started.</summary>
        public async Task StartedAsync(int count)
        {
            while (Calls < count)
            {
                await _started.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }

        public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, int waitSeconds, Action abandoned, CancellationToken cancellationToken)
        {
            Asks.Enqueue((maxMessages, BudgetUsed()));
            Interlocked.Increment(ref _calls);
            _started.Writer.TryWrite(maxMessages);
            if (Script.TryDequeue(out var answer))
            {
                return await answer(cancellationToken);
            }

            var messages = new List<ReceivedMessage>();
            while (messages.Count < maxMessages && _backlog.TryDequeue(out var m))
            {
                messages.Add(m);
            }

            if (messages.Count == 0 && HangWhenEmpty)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return messages;
        }
    }
}
