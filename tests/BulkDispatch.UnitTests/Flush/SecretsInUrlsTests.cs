using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using BulkDispatch.Producer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BulkDispatch.UnitTests.Flush;

/// <summary>A password or token in a URL setting is never echoed: messages show the URL with its userinfo and query redacted.</summary>
public sealed class SecretsInUrlsTests
{
    private const string Secret = "S3CR3T-do-not-print";

    public static TheoryData<string, string, string?> Settings => new()
    {
        // setting, a bad value holding the secret, the credential source it applies to
        { "BulkDispatch:KeyVault:VaultUri", $"http://user:{Secret}@vault.example.net/", "KeyVault" },
        { "BulkDispatch:Sqs:QueueUrl", $"ftp://user:{Secret}@sqs.example.com/123456789012/q", null },
        { "BulkDispatch:Sqs:ServiceUrl", $"ftp://{Secret}@localhost:4566/?token={Secret}", null },
        { "BulkDispatch:Sqs:DeadLetterQueueUrl", $"ftp://user:{Secret}@sqs.example.com/123456789012/dlq", null },
        { "BulkDispatch:Optimizely:EndpointOverride", $"ftp://user:{Secret}@proxy.example.com/v1/events?sig={Secret}", null },
        { "BulkDispatch:Optimizely:AllowedEndpoints", $"https://logx.optimizely.com/v1/events,ftp://user:{Secret}@proxy.example.com/v1/events", null },
        { "BulkDispatch:Aws:StsServiceUrl", $"ftp://user:{Secret}@sts.example.com", "WebIdentity" },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void A_bad_url_setting_is_named_without_its_secret(string key, string value, string? credentials)
    {
        var values = new Dictionary<string, string?> { [key] = value };
        if (credentials is not null)
        {
            values["BulkDispatch:Aws:Credentials"] = credentials;
            values["BulkDispatch:Aws:RoleArn"] = "arn:aws:iam::123456789012:role/flush";
            values["BulkDispatch:Aws:WebIdentityAudience"] = "api://AzureADTokenExchange";
        }

        using var services = new ServiceCollection().AddBulkDispatchFlush(new ConfigurationBuilder().AddInMemoryCollection(values).Build()).BuildServiceProvider();
        var error = Assert.Throws<BulkDispatchConfigurationException>(() => services.GetRequiredService<FlushEngine>().RunAsync().GetAwaiter().GetResult());

        Assert.Contains(error.Errors, e => e.StartsWith(key.Replace(":", "__", StringComparison.Ordinal) + ":", StringComparison.Ordinal) && e.Contains("***", StringComparison.Ordinal));
        Assert.DoesNotContain(Secret, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_producers_queue_settings_are_named_without_their_secret()
    {
        var options = new ProducerOptions { Sqs = new SqsOptions { QueueUrl = $"ftp://user:{Secret}@q.example.com/1/q", ServiceUrl = $"sqs.example.com?token={Secret}" } };

        var error = Assert.Throws<ArgumentException>(() => new SqsEventPublisher(options));

        Assert.Contains("BulkDispatch__Sqs__QueueUrl: 'ftp://***@q.example.com/1/q'", error.Message, StringComparison.Ordinal);
        Assert.Contains("BulkDispatch__Sqs__ServiceUrl: 'sqs.example.com?***'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, error.Message, StringComparison.Ordinal);
    }
}
