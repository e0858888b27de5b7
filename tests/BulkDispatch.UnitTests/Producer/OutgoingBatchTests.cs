using System.Globalization;
using System.Text;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer.Sending;
using BulkDispatch.Tests.Shared;

namespace BulkDispatch.UnitTests.Producer;

public sealed class OutgoingBatchTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 23, 12, 0, 0, 123, TimeSpan.Zero);

    public static TheoryData<int, int> Limits => new()
    {
        { 1024, 10 * 1024 },
        { 4096, 40960 },
        { 3000, 5000 },          // the batch limit, not the entry count, ends batches
        { 65536, 1_048_576 },
        { 262_144, 1_048_576 },
        { 1_048_576, 1_048_576 },
    };

    [Theory]
    [MemberData(nameof(Limits))]
    public void Packing_respects_every_limit_and_places_every_fragment_once_in_order(int maxMessageBytes, int maxBatchBytes)
    {
        var events = Inputs();
        var fragments = events.Select(e => WireFormat.EncodeEvent(e)).ToList();
        var batches = new List<OutgoingBatch>();
        var batch = new OutgoingBatch(maxMessageBytes, maxBatchBytes);
        var placed = new List<int>();
        long bufferedIn = 0;
        for (int i = 0; i < fragments.Count; i++)
        {
            var fragment = fragments[i];
            bool fits = ComposedLength([fragment]) <= maxMessageBytes;
            Assert.Equal(fits, batch.CanEverHold(fragment));
            if (!fits)
            {
                continue;
            }

            int buffered = Encoding.UTF8.GetByteCount(events[i].Body);
            bufferedIn += buffered;
            placed.Add(i);
            if (!batch.TryAdd(fragment, buffered))
            {
                AssertNoRoom(batch, fragment, maxMessageBytes, maxBatchBytes);
                batches.Add(batch);
                batch = new OutgoingBatch(maxMessageBytes, maxBatchBytes);
                Assert.True(batch.TryAdd(fragment, buffered), "an empty batch refused a fragment it can hold");
            }
        }

        if (!batch.IsEmpty)
        {
            batches.Add(batch);
        }

        Assert.True(placed.Count > 100, $"only {placed.Count} fragments fit {maxMessageBytes}-byte messages");
        var inOrder = new List<QueuedEvent>();
        foreach (var b in batches)
        {
            Assert.InRange(b.Messages.Count, 1, 10);
            var lengths = b.Messages.Select(m => ComposedLength(m.Fragments)).ToList();
            Assert.All(lengths, length => Assert.InRange(length, 1, maxMessageBytes));
            Assert.True(lengths.Sum() <= maxBatchBytes, $"a batch of {lengths.Sum()} bytes is over {maxBatchBytes}");
            Assert.Equal(lengths, b.Messages.Select(m => m.Bytes).ToList());
            Assert.Equal(lengths.Sum(), b.Bytes);
            Assert.Equal(b.Messages.Sum(m => m.Fragments.Count), b.Events);
            foreach (var m in b.Messages)
            {
                var decoded = MessageDecoder.Decode(WireFormat.Compose(m.Fragments), legacy: null);
                Assert.True(decoded.Succeeded, decoded.FailureDetail);
                Assert.Equal(m.Fragments.Count, decoded.Events.Count);
                foreach (var e in decoded.Events)
                {
                    inOrder.Add(new QueuedEvent(e.Url, e.HttpVerb, e.Headers, Encoding.UTF8.GetString(e.Body.Span), e.EnqueuedAt!.Value));
                }
            }
        }

        // Every fragment that can be sent is in exactly one message, in publishing order, and decodes to its event.
        var expected = placed.Select(i => events[i]).ToList();
        Assert.Equal(expected.Count, inOrder.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Url, inOrder[i].Url);
            Assert.Equal(expected[i].HttpVerb, inOrder[i].HttpVerb);
            Assert.Equal(expected[i].Headers.OrderBy(h => h.Key, StringComparer.Ordinal), inOrder[i].Headers.OrderBy(h => h.Key, StringComparer.Ordinal));
            Assert.Equal(expected[i].Body, inOrder[i].Body);
            Assert.Equal(expected[i].EnqueuedAt, inOrder[i].EnqueuedAt);
        }

        Assert.Equal(bufferedIn, batches.Sum(b => b.Messages.Sum(m => (long)m.BufferedBytes)));
    }

    [Fact]
    public void Ten_small_messages_fill_a_batch_when_each_message_holds_one_event()
    {
        var fragment = WireFormat.EncodeEvent(Inputs()[0]);
        int oneEvent = ComposedLength([fragment]);
        var batch = new OutgoingBatch(maxMessageBytes: oneEvent, maxBatchBytes: 1_048_576);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(batch.TryAdd(fragment, 1));
        }

        Assert.False(batch.TryAdd(fragment, 1));
        Assert.Equal(10, batch.Messages.Count);
        Assert.All(batch.Messages, m => Assert.Single(m.Fragments));
    }

    [Fact]
    public void A_fragment_exactly_as_large_as_the_message_limit_can_be_held_and_one_byte_more_cannot()
    {
        var fragment = WireFormat.EncodeEvent(Inputs()[0]);
        int exact = ComposedLength([fragment]);
        Assert.True(new OutgoingBatch(exact, 1_048_576).CanEverHold(fragment));
        Assert.False(new OutgoingBatch(exact - 1, 1_048_576).CanEverHold(fragment));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(11)]
    public void Splitting_a_message_keeps_every_fragment_once_in_order_with_its_buffered_bytes(int count)
    {
        var message = new OutgoingMessage();
        var fragments = Inputs().Take(count).Select(e => WireFormat.EncodeEvent(e)).ToList();
        for (int i = 0; i < count; i++)
        {
            message.Add(fragments[i], 1000 + i);
        }

        var (first, second) = message.Split();

        Assert.Equal(count / 2, first.Fragments.Count);
        Assert.Equal(count - (count / 2), second.Fragments.Count);
        Assert.Equal(fragments, first.Fragments.Concat(second.Fragments)); // the same arrays, in order
        Assert.Equal(Enumerable.Range(0, count / 2).Sum(i => 1000 + i), first.BufferedBytes);
        Assert.Equal(Enumerable.Range(count / 2, count - (count / 2)).Sum(i => 1000 + i), second.BufferedBytes);
        Assert.Equal(ComposedLength(first.Fragments), first.Bytes);
        Assert.Equal(ComposedLength(second.Fragments), second.Bytes);
    }

    /// <summary>The recorded SDK events, then small synthetic ones with varied headers, URLs and non-ASCII text.</summary>
    private static List<QueuedEvent> Inputs()
    {
        var events = TestVectors.All
            .Select((v, i) => new QueuedEvent(v.Url, v.HttpVerb, v.Headers, v.Body, At.AddMilliseconds(i)))
            .ToList();
        for (int i = 0; i < 300; i++)
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Content-Type"] = "application/json" };
            if (i % 3 == 0)
            {
                headers["X-Extra"] = "zoë \"quoted\" " + i.ToString(CultureInfo.InvariantCulture);
            }

            string body = "{\"account_id\":\"1\",\"visitors\":[{\"visitor_id\":\"" + new string('v', i * 7 % 500) + "😀 東京 " + i.ToString(CultureInfo.InvariantCulture) + "\",\"attributes\":[],\"snapshots\":[]}]}";
            events.Insert(i * 3 % events.Count, new QueuedEvent(i % 2 == 0 ? "https://logx.optimizely.com/v1/events" : "https://eu.logx.optimizely.com/v1/events", "POST", headers, body, At.AddSeconds(i)));
        }

        return events;
    }

    /// <summary>When TryAdd said no, the fragment really fits neither the last message nor a new one.</summary>
    private static void AssertNoRoom(OutgoingBatch batch, byte[] fragment, int maxMessageBytes, int maxBatchBytes)
    {
        var lengths = batch.Messages.Select(m => ComposedLength(m.Fragments)).ToList();
        int total = lengths.Sum();
        int lastWith = ComposedLength([.. batch.Messages[^1].Fragments, fragment]);
        bool joinsLast = lastWith <= maxMessageBytes && total - lengths[^1] + lastWith <= maxBatchBytes;
        bool opensNew = batch.Messages.Count < OutgoingBatch.MaxEntries && total + ComposedLength([fragment]) <= maxBatchBytes;
        Assert.False(joinsLast || opensNew, "TryAdd refused a fragment that fits");
    }

    /// <summary>The UTF-8 length of the message made of these fragments, measured on the composed text.</summary>
    private static int ComposedLength(IReadOnlyList<byte[]> fragments) => Encoding.UTF8.GetByteCount(WireFormat.Compose(fragments));
}
