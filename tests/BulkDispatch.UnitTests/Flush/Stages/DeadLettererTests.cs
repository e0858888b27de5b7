using System.Collections.Concurrent;
using System.Threading.Channels;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Reporting;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>Dead letters go in SQS-sized batches, each copy fitted to the queue; one placed lets its message be deleted, one not placed keeps it.</summary>
public sealed class DeadLettererTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly RunCounters _counters = StageKit.Counters();
    private readonly LedgerKit _kit = new();

    [Fact]
    public async Task Batches_hold_at_most_ten_entries()
    {
        var queue = new RecordingDeadLetterQueue();
        var letters = Enumerable.Range(0, 25).Select(i => Letter($"small {i}")).ToList();

        await PlaceAsync(queue, letters);

        Assert.Equal([10, 10, 5], queue.Batches.Select(b => b.Count));
        Assert.Equal(letters.Select(l => l.Body), queue.Batches.SelectMany(b => b).Select(c => c.Body));
    }

    [Fact]
    public async Task Batches_hold_at_most_1_MiB_counting_bodies_and_attributes_as_SQS_does()
    {
        var queue = new RecordingDeadLetterQueue();
        var letters = Enumerable.Range(0, 5).Select(i => Letter(new string((char)('a' + i), 400 * 1024))).ToList();

        await PlaceAsync(queue, letters);

        // Two 400 KiB bodies with their attributes fit 1 MiB; a third does not.
        Assert.Equal([2, 2, 1], queue.Batches.Select(b => b.Count));
        Assert.All(queue.Batches, b => Assert.True(b.Sum(c => c.Bytes) <= 1024 * 1024));
        Assert.All(queue.Batches.SelectMany(b => b), c => Assert.Equal(("undecodable", "not JSON"), (c.Reason, c.Detail)));
    }

    [Fact]
    public async Task A_body_at_the_queue_s_limit_goes_alone_without_attributes_and_its_message_is_deleted()
    {
        var queue = new RecordingDeadLetterQueue();
        var big = Letter(new string('x', 1024 * 1024));

        await PlaceAsync(queue, [Letter("small"), big, Letter("small too")]);

        Assert.Equal([1, 1, 1], queue.Batches.Select(b => b.Count));
        var copy = queue.Batches.ElementAt(1).Single();
        Assert.Equal((big.Body, null, null, DeadLetterTrim.AttributesDropped), (copy.Body, copy.Reason, copy.Detail, copy.Trim));
        Assert.Contains(big.Owner, StageKit.Drain(_kit.Deletions.Reader));
        Assert.Equal(0, _counters.TransientFailures);
    }

    [Fact]
    public async Task A_copy_larger_than_the_dead_letter_queue_s_MaximumMessageSize_is_a_dead_letter_failure_naming_the_queue()
    {
        var queue = new RecordingDeadLetterQueue { MaxMessageBytes = 64 * 1024 };
        var big = Letter(new string('x', 100_000));

        await PlaceAsync(queue, [big, Letter("small")]);

        Assert.Equal(["small"], queue.Batches.SelectMany(b => b).Select(c => c.Body)); // the big one is not even sent
        Assert.Same(big.Owner, Assert.Single(_kit.Kept.Kept));
        Assert.Equal(1, _counters.TransientFailures);
        Assert.Contains("the dead-letter queue https://sqs.test/dlq takes messages of at most 65536 bytes (its MaximumMessageSize)", _counters.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_placed_dead_letter_lets_its_message_be_deleted_and_one_refused_keeps_its_message()
    {
        var placed = Letter("goes");
        var refused = Letter("refused");
        var queue = new RecordingDeadLetterQueue { Refuse = c => c.Body == refused.Body };

        await PlaceAsync(queue, [placed, refused]);

        Assert.Same(placed.Owner, Assert.Single(StageKit.Drain(_kit.Deletions.Reader)));
        Assert.Same(refused.Owner, Assert.Single(_kit.Kept.Kept));
        Assert.Equal(1, _counters.DeadLetteredByReason["undecodable"]);
        Assert.Equal(1, _counters.TransientFailures);
        Assert.Contains("KmsThrottled", _counters.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_call_keeps_every_message_of_the_batch()
    {
        var letters = new[] { Letter("a"), Letter("b") };
        var queue = new RecordingDeadLetterQueue { FailWholeCall = true };

        await PlaceAsync(queue, letters);

        Assert.Empty(StageKit.Drain(_kit.Deletions.Reader));
        Assert.Equal(2, _kit.Kept.Kept.Count);
        Assert.Equal(2, _counters.TransientFailures);
        Assert.Empty(_counters.DeadLetteredByReason);
    }

    [Fact]
    public async Task Without_a_dead_letter_queue_the_message_stays_and_the_run_says_what_to_set()
    {
        var letter = Letter("nowhere to go");

        await PlaceAsync(new MissingDeadLetterQueue(), [letter]);

        Assert.Same(letter.Owner, Assert.Single(_kit.Kept.Kept));
        Assert.Equal(1, _counters.TransientFailures);
        Assert.Contains("BulkDispatch__Sqs__DeadLetterQueueUrl", _counters.LastFailure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dry_run_counts_dead_letters_by_reason_and_keeps_their_messages()
    {
        var letters = new[] { Letter("a"), Letter("b") };

        await PlaceAsync(new DryRunDeadLetters(), letters);

        Assert.Equal(2, _counters.DeadLetteredByReason["undecodable"]);
        Assert.Equal(0, _counters.TransientFailures);
        Assert.Empty(StageKit.Drain(_kit.Deletions.Reader));
        Assert.Equal(2, _kit.Kept.Kept.Count);
    }

    /// <summary>A dead letter whose message has nothing else pending (its decoding resolved as admission does).</summary>
    private DeadLetter Letter(string body)
    {
        var message = _kit.Admit(body);
        _kit.Ledger.Expect(message, 1);
        _kit.Ledger.Resolve(message);
        return new DeadLetter(body, "undecodable", "not JSON", message, null);
    }

    private async Task PlaceAsync(IDeadLetterQueue queue, IReadOnlyList<DeadLetter> letters)
    {
        using var deadlines = StageKit.Deadlines(_time);
        var input = Channel.CreateUnbounded<DeadLetter>();
        foreach (var letter in letters)
        {
            input.Writer.TryWrite(letter);
        }

        input.Writer.Complete();
        await new DeadLetterer(queue, _kit.Ledger, deadlines, _counters, StageKit.Log, StageKit.RunId).RunAsync(input.Reader);
    }

    private sealed class RecordingDeadLetterQueue : IDeadLetterQueue
    {
        public ConcurrentQueue<List<DeadLetterCopy>> Batches { get; } = new();

        public Func<DeadLetterCopy, bool> Refuse { get; init; } = _ => false;

        public bool FailWholeCall { get; init; }

        public int MaxMessageBytes { get; init; } = 1024 * 1024;

        public string Name => "https://sqs.test/dlq";

        public ValueTask<int> MaxMessageBytesAsync(CancellationToken cancellationToken) => ValueTask.FromResult(MaxMessageBytes);

        public Task<IReadOnlyList<EntryResult>> SendAsync(IReadOnlyList<DeadLetterCopy> batch, CancellationToken cancellationToken)
        {
            Batches.Enqueue([.. batch]);
            if (FailWholeCall)
            {
                throw new QueueCallException("connection reset", "HttpRequestException", fatal: false, inner: null);
            }

            return Task.FromResult<IReadOnlyList<EntryResult>>(batch.Select(d => Refuse(d) ? EntryResult.Failed("KmsThrottled", "try later") : EntryResult.Done).ToArray());
        }
    }
}
