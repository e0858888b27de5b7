using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Producer;
using Microsoft.Extensions.Configuration;

namespace BulkDispatch.UnitTests.Producer;

public sealed class ProducerOptionsTests
{
    private static IReadOnlyList<string> Validate(ProducerOptions options) => new ProducerOptionsValidator(null).Errors(options);

    public static TheoryData<string, string> InvalidSettings => new()
    {
        { "QueueUrl=ftp", "BulkDispatch__Sqs__QueueUrl" },
        { "QueueUrl=relative", "BulkDispatch__Sqs__QueueUrl" },
        { "QueueName=empty", "BulkDispatch__Sqs__QueueName" },
        { "ServiceUrl=bad", "BulkDispatch__Sqs__ServiceUrl" },
        { "BufferCapacity=0", "BulkDispatch__Producer__BufferCapacity" },
        { "BufferCapacity=huge", "BulkDispatch__Producer__BufferCapacity" },
        { "BufferBytes=small", "BulkDispatch__Producer__BufferBytes" },
        { "BlockTimeout=negative", "BulkDispatch__Producer__BlockTimeout" },
        { "BlockTimeout=long", "BulkDispatch__Producer__BlockTimeout" },
        { "Linger=negative", "BulkDispatch__Producer__Linger" },
        { "Linger=long", "BulkDispatch__Producer__Linger" },
        { "MaxMessageBytes=small", "BulkDispatch__Producer__MaxMessageBytes" },
        { "MaxMessageBytes=large", "BulkDispatch__Producer__MaxMessageBytes" },
        { "WireFormatVersion=0", "BulkDispatch__Producer__WireFormatVersion" },
        { "WireFormatVersion=3", "BulkDispatch__Producer__WireFormatVersion" },
        { "SendConcurrency=0", "BulkDispatch__Producer__SendConcurrency" },
        { "SendConcurrency=65", "BulkDispatch__Producer__SendConcurrency" },
        { "RetryBaseDelay=0", "BulkDispatch__Producer__RetryBaseDelay / RetryMaxDelay" },
        { "RetryMaxDelay=belowBase", "BulkDispatch__Producer__RetryBaseDelay / RetryMaxDelay" },
        { "DisposeTimeout=negative", "BulkDispatch__Producer__DisposeTimeout" },
        { "DisposeTimeout=long", "BulkDispatch__Producer__DisposeTimeout" },
    };

    [Fact]
    public void Defaults_are_valid_and_match_the_documented_values()
    {
        var options = new ProducerOptions();
        Assert.Empty(Validate(options));
        Assert.Equal(("event-queue", "us-west-2", OverflowPolicy.DropNewest, 0, 2), (options.Sqs.QueueName, options.Sqs.Region, options.OverflowPolicy, options.MaxMessageBytes, options.WireFormatVersion));
        Assert.Equal("BulkDispatch:Sqs", SqsOptions.Section);
        Assert.Equal("BulkDispatch:Producer", ProducerOptions.Section);
    }

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void Each_invalid_setting_is_reported_under_its_setting_name(string change, string settingName)
    {
        var options = new ProducerOptions();
        Apply(options, change);

        var error = Assert.Single(Validate(options));
        Assert.StartsWith(settingName + ":", error, StringComparison.Ordinal);
        Assert.Contains("Example:", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wire_format_version_the_producer_does_not_write_is_refused_with_the_choices_and_an_example()
    {
        var error = Assert.Single(Validate(new ProducerOptions { WireFormatVersion = 3 }));

        Assert.Equal(
            "BulkDispatch__Producer__WireFormatVersion: 3 is not a version this producer writes: 2 (compressed, the default) or 1 " +
            "(plain JSON, while a flush that reads only version 1 drains the queue). Example: 1.",
            error);
    }

    [Theory]
    [InlineData("1", 1, null)]
    [InlineData("v1", 2, "BulkDispatch__Producer__WireFormatVersion: 'v1' is not a whole number (or is too large). Example: 1.")]
    public void The_wire_format_version_binds_from_its_setting(string value, int bound, string? error)
    {
        var settings = new ConfigurationBuilder().AddInMemoryCollection([new("BulkDispatch:Producer:WireFormatVersion", value)]).Build();
        var options = new ProducerOptions();

        SettingsBinder.Bind(settings.GetSection(ProducerOptions.Section), options);

        Assert.Equal(bound, options.WireFormatVersion);
        Assert.Equal(error is null ? [] : [error], new ProducerOptionsValidator(settings).Errors(options));
    }

    [Fact]
    public void Every_invalid_setting_is_listed_at_once()
    {
        var options = new ProducerOptions();
        foreach (var change in new[] { "QueueUrl=ftp", "BufferCapacity=0", "Linger=long", "SendConcurrency=0", "MaxMessageBytes=small" })
        {
            Apply(options, change);
        }

        var errors = Validate(options);
        Assert.Equal(5, errors.Count);
        Assert.Equal(
            ["BulkDispatch__Producer__BufferCapacity", "BulkDispatch__Producer__Linger", "BulkDispatch__Producer__MaxMessageBytes", "BulkDispatch__Producer__SendConcurrency", "BulkDispatch__Sqs__QueueUrl"],
            errors.Select(e => e[..e.IndexOf(':', StringComparison.Ordinal)]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Boundary_values_are_accepted()
    {
        foreach (var options in new[]
        {
            new ProducerOptions { Sqs = { QueueUrl = "https://sqs.us-west-2.amazonaws.com/123456789012/event-queue", QueueName = "" } },
            new ProducerOptions { Sqs = { ServiceUrl = "http://localhost:4566" }, BufferCapacity = 1, BufferBytes = 1024 * 1024 },
            new ProducerOptions { BufferCapacity = 10_000_000, MaxMessageBytes = 1024, Linger = TimeSpan.Zero, BlockTimeout = TimeSpan.Zero },
            new ProducerOptions { MaxMessageBytes = 1_048_576, Linger = TimeSpan.FromSeconds(10), BlockTimeout = TimeSpan.FromMinutes(1), SendConcurrency = 64 },
            new ProducerOptions { SendConcurrency = 1, RetryBaseDelay = TimeSpan.FromMilliseconds(1), RetryMaxDelay = TimeSpan.FromMilliseconds(1), DisposeTimeout = TimeSpan.Zero },
            new ProducerOptions { DisposeTimeout = TimeSpan.FromMinutes(10), OverflowPolicy = OverflowPolicy.Block, WireFormatVersion = 1 },
        })
        {
            Assert.Empty(Validate(options));
        }
    }

    private static void Apply(ProducerOptions o, string change)
    {
        switch (change)
        {
            case "QueueUrl=ftp": o.Sqs.QueueUrl = "ftp://example.com/q"; break;
            case "QueueUrl=relative": o.Sqs.QueueUrl = "event-queue"; break;
            case "QueueName=empty": o.Sqs.QueueName = " "; break;
            case "ServiceUrl=bad": o.Sqs.ServiceUrl = "localhost:4566"; break;
            case "BufferCapacity=0": o.BufferCapacity = 0; break;
            case "BufferCapacity=huge": o.BufferCapacity = 10_000_001; break;
            case "BufferBytes=small": o.BufferBytes = 1024 * 1024 - 1; break;
            case "BlockTimeout=negative": o.BlockTimeout = TimeSpan.FromMilliseconds(-1); break;
            case "BlockTimeout=long": o.BlockTimeout = TimeSpan.FromMinutes(1) + TimeSpan.FromMilliseconds(1); break;
            case "Linger=negative": o.Linger = TimeSpan.FromMilliseconds(-1); break;
            case "Linger=long": o.Linger = TimeSpan.FromSeconds(11); break;
            case "MaxMessageBytes=small": o.MaxMessageBytes = 1023; break;
            case "MaxMessageBytes=large": o.MaxMessageBytes = 1_048_577; break;
            case "WireFormatVersion=0": o.WireFormatVersion = 0; break;
            case "WireFormatVersion=3": o.WireFormatVersion = 3; break;
            case "SendConcurrency=0": o.SendConcurrency = 0; break;
            case "SendConcurrency=65": o.SendConcurrency = 65; break;
            case "RetryBaseDelay=0": o.RetryBaseDelay = TimeSpan.Zero; break;
            case "RetryMaxDelay=belowBase": o.RetryMaxDelay = o.RetryBaseDelay - TimeSpan.FromMilliseconds(1); break;
            case "DisposeTimeout=negative": o.DisposeTimeout = TimeSpan.FromSeconds(-1); break;
            case "DisposeTimeout=long": o.DisposeTimeout = TimeSpan.FromMinutes(11); break;
            default: throw new ArgumentException(change, nameof(change));
        }
    }
}
