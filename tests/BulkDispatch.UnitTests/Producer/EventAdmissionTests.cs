using System.Text;
using BulkDispatch.Core.Wire;
using BulkDispatch.Producer.Buffering;
using Microsoft.Extensions.Time.Testing;

namespace BulkDispatch.UnitTests.Producer;

/// <summary>What <c>TryPublish</c> lets into the buffer, decided on the caller's thread.</summary>
public sealed class EventAdmissionTests
{
    private const string Url = "https://logx.optimizely.com/v1/events";
    private const string Body = "{\"account_id\":\"1\",\"visitors\":[{\"visitor_id\":\"zoë\"}]}";
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 8, 30, 0, 250, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);

    [Theory]
    [InlineData(null, Body)]
    [InlineData("", Body)]
    [InlineData(Url, null)]
    [InlineData(Url, "")]
    public void An_event_without_a_url_or_a_body_is_refused_as_missing(string? url, string? body)
    {
        var admission = new EventAdmission(_time, 0).Admit(url, "POST", null, body);

        Assert.Equal((null, RefusalKind.Missing), (admission.Event, admission.Refusal));
    }

    [Fact]
    public void An_admitted_event_carries_what_the_caller_passed_the_body_bytes_and_the_time()
    {
        var headers = new Dictionary<string, string> { ["Content-Type"] = "application/json" };

        var admission = new EventAdmission(_time, 0).Admit(Url, "POST", headers, Body);

        var e = Assert.IsType<PendingEvent>(admission.Event).Event!;
        Assert.Null(admission.Refusal);
        Assert.Equal((Url, "POST", Body, Now), (e.Url, e.HttpVerb, e.Body, e.EnqueuedAt));
        Assert.Equal("application/json", e.Headers["content-type"]);
        Assert.Equal(Encoding.UTF8.GetByteCount(Body), admission.Event!.Bytes);
        Assert.Equal(admission.Event.Bytes, admission.BodyBytes);
        Assert.True(admission.BodyBytes > Body.Length, "ë takes two UTF-8 bytes: the bound counts bytes, not chars");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void A_missing_verb_is_POST_and_missing_headers_are_none(string? verb)
    {
        var e = new EventAdmission(_time, 0).Admit(Url, verb, null, Body).Event!.Event!;

        Assert.Equal("POST", e.HttpVerb);
        Assert.Empty(e.Headers);
    }

    [Fact]
    public void The_headers_are_copied_and_the_copy_is_shared_while_they_stay_equal()
    {
        var admission = new EventAdmission(_time, 0);
        var headers = new Dictionary<string, string> { ["Content-Type"] = "application/json" };

        var first = admission.Admit(Url, "POST", headers, Body).Event!.Event!.Headers;
        var second = admission.Admit(Url, "POST", new Dictionary<string, string>(headers), Body).Event!.Event!.Headers;
        headers["Content-Type"] = "text/plain"; // the caller reuses its dictionary
        var third = admission.Admit(Url, "POST", headers, Body).Event!.Event!.Headers;

        Assert.Same(first, second);
        Assert.Equal("application/json", first["Content-Type"]);
        Assert.NotSame(first, third);
        Assert.Equal("text/plain", third["Content-Type"]);
    }

    [Fact]
    public void The_size_check_refuses_an_event_whose_body_url_and_envelope_exceed_the_largest_message()
    {
        const int Max = 4096;
        var admission = new EventAdmission(_time, Max);
        int largestBody = Max - WireFormat.EnvelopeBytes - Url.Length - 64;

        var fits = admission.Admit(Url, "POST", null, Ascii(largestBody));
        var tooLarge = admission.Admit(Url, "POST", null, Ascii(largestBody + 1));

        Assert.NotNull(fits.Event);
        Assert.Equal((null, RefusalKind.TooLarge, largestBody + 1), (tooLarge.Event, tooLarge.Refusal, tooLarge.BodyBytes));
    }

    [Fact]
    public void Until_the_queue_is_read_the_bound_is_SQS_s_and_then_the_queue_s_own()
    {
        var admission = new EventAdmission(_time, 0);
        string body = Ascii(300 * 1024);
        Assert.Equal(1024 * 1024, admission.MaxMessageBytes);
        Assert.NotNull(admission.Admit(Url, "POST", null, body).Event);

        admission.MaxMessageBytes = 256 * 1024; // the pump read the queue's MaximumMessageSize

        Assert.Equal(RefusalKind.TooLarge, admission.Admit(Url, "POST", null, body).Refusal);
    }

    private static string Ascii(int bytes) => "{\"v\":\"" + new string('x', bytes - 8) + "\"}";
}
