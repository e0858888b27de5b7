using System.Text;
using System.Threading.Channels;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Flush.Engine.Stages;
using BulkDispatch.Flush.Reporting;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>Admission: every permanent failure is dead-lettered here, and every part is expected before the message can settle.</summary>
public sealed class AdmissionTests
{
    private readonly RunCounters _counters = StageKit.Counters();
    private readonly LedgerKit _kit = new();

    [Fact]
    public async Task An_undecodable_message_is_dead_lettered_whole_and_settles_only_with_its_dead_letter()
    {
        var message = _kit.Admit("not a message");

        var (admitted, deadLetters) = await AdmitAsync(message);

        Assert.Empty(admitted);
        var dead = Assert.Single(deadLetters);
        Assert.Equal(DeadLetterReason.Undecodable, dead.Reason);
        Assert.Equal("not a message", dead.Body);
        Assert.False(_kit.Deletions.Reader.TryPeek(out _)); // the dead letter is still pending

        _kit.Ledger.Resolve(message); // placed
        Assert.True(_kit.Deletions.Reader.TryRead(out _));
    }

    [Fact]
    public async Task An_event_for_a_URL_not_allowed_is_dead_lettered_and_the_others_of_its_message_go_on()
    {
        string elsewhere = WireFormat.Encode(
        [
            new QueuedEvent("https://evil.example/v1/events", "POST", new Dictionary<string, string>(), StageKit.Batch("x"), DateTimeOffset.UnixEpoch),
            new QueuedEvent(StageKit.Url, "POST", new Dictionary<string, string>(), StageKit.Batch("a", "b"), DateTimeOffset.UnixEpoch),
        ]);
        var message = _kit.Admit(elsewhere);

        var (admitted, deadLetters) = await AdmitAsync(message);

        var dead = Assert.Single(deadLetters);
        Assert.Equal(DeadLetterReason.EndpointNotAllowed, dead.Reason);
        Assert.Contains("evil.example", dead.Body, StringComparison.Ordinal);
        Assert.Equal(2, Assert.Single(Assert.Single(admitted).Events).Visitors.Count);
        Assert.Equal(2, _counters.EventsReceived);

        // Three parts now pend: two visitors and the dead letter.
        for (int i = 0; i < 2; i++)
        {
            _kit.Ledger.Resolve(message);
        }

        Assert.False(_kit.Deletions.Reader.TryPeek(out _));
        _kit.Ledger.Resolve(message);
        Assert.True(_kit.Deletions.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_URL_or_verb_from_the_queue_is_quoted_in_the_detail_with_its_control_characters_escaped()
    {
        const string forged = "12:00:00 info: BulkDispatch.Flush.Engine.FlushEngine[1] Flush FORGED: all good";
        string url = "https://evil.example/v1/events\r\n" + forged + "\0\u0085\u009b\uffff";
        string message = WireFormat.Encode(
        [
            new QueuedEvent(url, "POST", new Dictionary<string, string>(), StageKit.Batch("x"), DateTimeOffset.UnixEpoch),
            new QueuedEvent(StageKit.Url, "GET\r\n" + forged, new Dictionary<string, string>(), StageKit.Batch("y"), DateTimeOffset.UnixEpoch),
        ]);

        var (_, deadLetters) = await AdmitAsync(_kit.Admit(message));

        Assert.Equal([DeadLetterReason.EndpointNotAllowed, DeadLetterReason.InvalidEvent], deadLetters.Select(d => d.Reason));
        Assert.Equal(@"Event URL 'https://evil.example/v1/events\r\n" + forged + @"\0\u0085\u009B\uFFFF' is not in BulkDispatch__Optimizely__AllowedEndpoints.", deadLetters[0].Detail);
        Assert.Equal(@"Event verb 'GET\r\n" + forged + "' is not POST.", deadLetters[1].Detail);
        Assert.Equal(url, MessageDecoder.Decode(deadLetters[0].Body, null).Events.Single().Url); // the copy keeps the event as it came
    }

    [Theory]
    [InlineData("?x=1")]
    [InlineData("?")]
    [InlineData("#top")]
    [InlineData("?x=1\r\nFORGED")]
    public async Task An_allow_listed_URL_with_a_query_or_fragment_is_dead_lettered_not_sent(string tail)
    {
        var message = _kit.Admit(WireFormat.Encode([new QueuedEvent(StageKit.Url + tail, "POST", new Dictionary<string, string>(), StageKit.Batch("x"), DateTimeOffset.UnixEpoch)]));

        var (admitted, deadLetters) = await AdmitAsync(message);

        Assert.Empty(admitted);
        var dead = Assert.Single(deadLetters);
        Assert.Equal(DeadLetterReason.EndpointNotAllowed, dead.Reason);
        Assert.Contains("has a query, fragment or user info", dead.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(dead.Detail, c => char.IsControl(c));
    }

    [Fact]
    public async Task An_allow_listed_URL_with_user_info_is_dead_lettered_and_the_URL_itself_is_admitted()
    {
        var message = _kit.Admit(WireFormat.Encode(
        [
            new QueuedEvent("https://user:pass@logx.optimizely.com/v1/events", "POST", new Dictionary<string, string>(), StageKit.Batch("x"), DateTimeOffset.UnixEpoch),
            new QueuedEvent(StageKit.Url, "POST", new Dictionary<string, string>(), StageKit.Batch("y"), DateTimeOffset.UnixEpoch),
        ]));

        var (admitted, deadLetters) = await AdmitAsync(message);

        Assert.Equal(DeadLetterReason.EndpointNotAllowed, Assert.Single(deadLetters).Reason);
        Assert.Equal(StageKit.Url, Assert.Single(Assert.Single(admitted).Events).Tracker.Decoded.Url);
    }

    [Fact]
    public async Task A_visitor_too_large_for_any_request_is_dead_lettered_alone()
    {
        string body = StageKit.Batch("small", "huge-" + new string('h', 2000), "small2");
        var message = _kit.Admit(StageKit.Message(body));

        var (admitted, deadLetters) = await AdmitAsync(message, maxRequestBytes: 1000);

        var dead = Assert.Single(deadLetters);
        Assert.Equal(DeadLetterReason.VisitorTooLarge, dead.Reason);
        Assert.Contains("BulkDispatch__Flush__MaxRequestBytes (1000)", dead.Detail, StringComparison.Ordinal);
        var decoded = MessageDecoder.Decode(dead.Body, null);
        Assert.Equal(["huge-" + new string('h', 2000)], StageKit.VisitorIds(decoded.Events.Single().Body.Span));
        var admittedEvent = Assert.Single(Assert.Single(admitted).Events);
        Assert.Equal(["small", "small2"], admittedEvent.Visitors.Select(v => StageKit.VisitorIds(v.Span).Single()));
    }

    [Fact]
    public async Task An_event_without_visitors_counts_as_delivered_and_holds_nothing()
    {
        var message = _kit.Admit(StageKit.Message(StageKit.Batch()));

        var (admitted, deadLetters) = await AdmitAsync(message);

        Assert.Empty(admitted);
        Assert.Empty(deadLetters);
        Assert.Equal(1, _counters.EventsDelivered);
        Assert.True(_kit.Deletions.Reader.TryRead(out _)); // nothing pending: deleted at once
    }

    private async Task<(List<DecodedMessage> Admitted, List<DeadLetter> DeadLetters)> AdmitAsync(InFlightMessage message, int maxRequestBytes = 3_000_000)
    {
        var input = Channel.CreateUnbounded<InFlightMessage>();
        input.Writer.TryWrite(message);
        input.Writer.Complete();
        var output = Channel.CreateUnbounded<DecodedMessage>();
        var deadLetters = Channel.CreateUnbounded<DeadLetter>();
        await new Admission(StageKit.Rules(maxRequestBytes), _kit.Ledger, _counters, StageKit.Log, StageKit.RunId).RunAsync(input.Reader, output.Writer, deadLetters.Writer);
        Assert.True(output.Reader.Completion.IsCompleted || output.Reader.Count > 0);
        return (StageKit.Drain(output.Reader), StageKit.Drain(deadLetters.Reader));
    }
}
