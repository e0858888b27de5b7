using System.Text;
using Amazon.SQS;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Producer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using static BulkDispatch.IntegrationTests.Producer.ProducerTestSupport;

namespace BulkDispatch.IntegrationTests.Producer;

/// <summary><c>AddBulkDispatchProducer(IConfiguration)</c> in a generic host: settings bind, bad ones stop the start, stopping sends what is buffered.</summary>
[Collection(ProducerHostingGroup.Name)]
public sealed class ProducerHostingTests(SqsEmulatorFixture fixture) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task Settings_bind_from_configuration_and_host_stop_sends_everything_buffered()
    {
        string queue = await CreateQueueAsync(fixture.Emulator, "producer-host");
        var settings = new Dictionary<string, string?>
        {
            ["BulkDispatch:Sqs:QueueUrl"] = queue,
            ["BulkDispatch:Sqs:ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
            ["BulkDispatch:Sqs:Region"] = "eu-central-1",
            ["BulkDispatch:Producer:BufferCapacity"] = "5000",
            ["BulkDispatch:Producer:BufferBytes"] = "33554432",
            ["BulkDispatch:Producer:OverflowPolicy"] = "Block",
            ["BulkDispatch:Producer:BlockTimeout"] = "00:00:00.250",
            ["BulkDispatch:Producer:Linger"] = "00:00:00.010",
            ["BulkDispatch:Producer:MaxMessageBytes"] = "65536",
            ["BulkDispatch:Producer:SendConcurrency"] = "2",
            ["BulkDispatch:Producer:RetryBaseDelay"] = "00:00:00.020",
            ["BulkDispatch:Producer:RetryMaxDelay"] = "00:00:00.500",
            ["BulkDispatch:Producer:DisposeTimeout"] = "00:00:30",
            ["BulkDispatch:Producer:DropWarningInterval"] = "00:00:05",
            ["BulkDispatch:Producer:WireFormatVersion"] = "1",
        };
        using var sqs = fixture.Emulator.CreateClient();
        // The application's own client, for its other queues: the producer must not pick it up.
        using var applicationsOwn = new Amazon.SQS.AmazonSQSClient(new Amazon.Runtime.BasicAWSCredentials("app", "app"), new AmazonSQSConfig { ServiceURL = "http://127.0.0.1:9", AuthenticationRegion = "us-west-2" });
        int applicationRequests = 0;
        applicationsOwn.BeforeRequestEvent += (_, _) => Interlocked.Increment(ref applicationRequests);
        using var host = BuildHost(settings, services => services
            .AddSingleton<IAmazonSQS>(applicationsOwn)
            .AddKeyedSingleton(ProducerServiceCollectionExtensions.SqsServiceKey, fixture.Emulator.CreateClient()));

        var options = host.Services.GetRequiredService<IOptions<ProducerOptions>>().Value;
        Assert.Equal(
            (queue, fixture.Emulator.ServiceUrl.ToString(), "eu-central-1", 5000, 33554432L, OverflowPolicy.Block, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(10)),
            (options.Sqs.QueueUrl, options.Sqs.ServiceUrl, options.Sqs.Region, options.BufferCapacity, options.BufferBytes, options.OverflowPolicy, options.BlockTimeout, options.Linger));
        Assert.Equal(
            (65536, 2, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), 1),
            (options.MaxMessageBytes, options.SendConcurrency, options.RetryBaseDelay, options.RetryMaxDelay, options.DisposeTimeout, options.DropWarningInterval, options.WireFormatVersion));

        await host.StartAsync();
        var publisher = host.Services.GetRequiredService<SqsEventPublisher>();
        Assert.Same(publisher, host.Services.GetRequiredService<SqsEventPublisher>());
        var events = Enumerable.Range(0, 1_000).Select(Varied).ToList();
        Assert.All(events, e => Assert.True(e.Publish(publisher)));

        await host.StopAsync(); // no FlushAsync: stopping the application sends what is buffered
        Assert.Equal(new ProducerStatistics(events.Count, events.Count, 0, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);

        var keys = new List<string>();
        int largest = 0;
        await ReceiveAllAsync(sqs, queue, body =>
        {
            lock (keys)
            {
                largest = Math.Max(largest, Encoding.UTF8.GetByteCount(body));
                Assert.StartsWith("{\"format\":\"bulkdispatch\",\"version\":1,", body, StringComparison.Ordinal); // WireFormatVersion was applied
                keys.AddRange(Decode(body).Select(e => Key(e.Url, e.HttpVerb, e.Headers, e.Body.ToArray())));
            }
        });
        AssertSameMultiset(events.Select(e => e.Key), keys, "events read back after the host stopped");
        Assert.InRange(largest, 1, 65536); // BulkDispatch:Producer:MaxMessageBytes was applied
        Assert.Equal(0, applicationRequests);
    }

    [Fact]
    public async Task Invalid_settings_fail_the_host_start_naming_each_setting()
    {
        var settings = new Dictionary<string, string?>
        {
            ["BulkDispatch:Sqs:QueueUrl"] = "ftp://example.com/queue",
            ["BulkDispatch:Producer:BufferCapacity"] = "0",
            ["BulkDispatch:Producer:Linger"] = "00:01:00",
            ["BulkDispatch:Producer:SendConcurrency"] = "1000",
        };
        using var host = BuildHost(settings, services => services.AddKeyedSingleton(ProducerServiceCollectionExtensions.SqsServiceKey, fixture.Emulator.CreateClient()));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        foreach (var name in new[] { "BulkDispatch__Sqs__QueueUrl", "BulkDispatch__Producer__BufferCapacity", "BulkDispatch__Producer__Linger", "BulkDispatch__Producer__SendConcurrency" })
        {
            Assert.Contains(name, error.Message, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("BulkDispatch__Producer__BufferBytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_registered_client_the_publisher_finds_the_queue_by_name_at_the_configured_endpoint()
    {
        // The publisher's own client uses the AWS SDK's default credential chain: give it (fake) keys the emulator accepts.
        using var credentials = new EnvironmentOverride(("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_SESSION_TOKEN", null), ("AWS_PROFILE", null));
        string name = "producer-host-name-" + Guid.NewGuid().ToString("N")[..10];
        string queue = await fixture.Emulator.CreateQueueAsync(name);
        var settings = new Dictionary<string, string?>
        {
            ["BulkDispatch:Sqs:QueueName"] = name,
            ["BulkDispatch:Sqs:Region"] = "us-west-2",
            ["BulkDispatch:Sqs:ServiceUrl"] = fixture.Emulator.ServiceUrl.ToString(),
            ["BulkDispatch:Producer:Linger"] = "00:00:00.010",
            ["BulkDispatch:Producer:RetryBaseDelay"] = "00:00:00.020",
            ["BulkDispatch:Producer:RetryMaxDelay"] = "00:00:00.500",
        };
        var events = Enumerable.Range(0, 200).Select(Varied).ToList();
        SqsEventPublisher publisher;
        using (var host = BuildHost(settings, _ => { }))
        {
            await host.StartAsync();
            publisher = host.Services.GetRequiredService<SqsEventPublisher>();
            Assert.All(events, e => Assert.True(e.Publish(publisher)));
            using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await host.StopAsync(guard.Token);
        }

        Assert.Equal(new ProducerStatistics(events.Count, events.Count, 0, 0, publisher.Statistics.SendRequests, 0), publisher.Statistics);
        Assert.False(publisher.TryPublish(events[0].Url, events[0].Verb, events[0].Headers, events[0].Body)); // disposed with the host
        using var sqs = fixture.Emulator.CreateClient();
        AssertSameMultiset(events.Select(e => e.Key), await ReceiveEventKeysAsync(sqs, queue), "events read back from the queue found by name");
    }

    private static IHost BuildHost(Dictionary<string, string?> settings, Action<IServiceCollection> configure)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddProvider(new CapturingLoggerFactory());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
        configure(builder.Services);
        builder.Services.AddBulkDispatchProducer(builder.Configuration);
        return builder.Build();
    }

    /// <summary>Sets process environment variables and puts the old values back.</summary>
    private sealed class EnvironmentOverride : IDisposable
    {
        private readonly List<(string Name, string? Old)> _saved = [];

        public EnvironmentOverride(params (string Name, string? Value)[] values)
        {
            foreach (var (name, value) in values)
            {
                _saved.Add((name, Environment.GetEnvironmentVariable(name)));
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        public void Dispose()
        {
            foreach (var (name, old) in _saved)
            {
                Environment.SetEnvironmentVariable(name, old);
            }
        }
    }
}

/// <summary>Runs alone: one test sets process-wide AWS credential variables.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProducerHostingGroup
{
    public const string Name = "Producer hosting (process environment)";
}
