using BulkDispatch.Core.Configuration;

namespace BulkDispatch.UnitTests.Core.Configuration;

/// <summary>A URL shown in a message or a log keeps where it points and loses what may be a secret.</summary>
public sealed class UrlRedactionTests
{
    [Theory]
    [InlineData("http://user:SECRET@host/", "http://***@host/")]
    [InlineData("https://SECRET@vault.example.net:8443/path", "https://***@vault.example.net:8443/path")]
    [InlineData("https://host/events?sig=SECRET&x=1", "https://host/events?***")]
    [InlineData("https://u:SECRET@host/a?token=SECRET#frag", "https://***@host/a?***#frag")]
    [InlineData("user:SECRET@host/queue", "***@host/queue")]
    [InlineData("ftp://a:SECRET@b@host", "ftp://***@host")]
    public void Userinfo_and_query_are_hidden(string value, string shown)
    {
        Assert.Equal(shown, UrlRedaction.Redact(value));
        Assert.DoesNotContain("SECRET", UrlRedaction.Redact(value), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://sqs.us-west-2.amazonaws.com/123456789012/event-queue")]
    [InlineData("http://sqs.us-west-2.localhost:4566/000000000000/q")]
    [InlineData("https://host/path/with@sign")]
    [InlineData("event-queue")]
    [InlineData("")]
    public void Anything_else_is_shown_as_it_is(string value) => Assert.Equal(value, UrlRedaction.Redact(value));

    [Fact]
    public void Null_is_empty() => Assert.Equal("", UrlRedaction.Redact(null));
}
