using Amazon.Runtime;
using Amazon.SQS;
using BulkDispatch.Flush;
using BulkDispatch.Flush.Reporting;
using BulkDispatch.IntegrationTests.Infrastructure;
using BulkDispatch.Sandbox;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace BulkDispatch.IntegrationTests;

/// <summary>
/// A receive the flush abandons on its timeout may still have been served: the emulator leased its messages, the
/// answer never came back, and the retry found the queue empty. The run must not call that queue drained.
/// </summary>
public sealed class AbandonedReceiveTests(SqsEmulatorFixture fixture, ITestOutputHelper output) : IClassFixture<SqsEmulatorFixture>
{
    [Fact]
    public async Task A_run_whose_first_receive_was_served_but_never_answered_is_not_drained()
    {
        await using var h = await FlushHarness.CreateAsync(fixture.Emulator, visibilityTimeoutSeconds: 60);
        await h.EnqueueAsync(FlushHarness.Messages(DemoEvents.Generate(3, seed: 5), perMessage: 3)); // one message
        var engine = h.CreateEngine(
            new Dictionary<string, string?>
            {
                ["BulkDispatch:Flush:ReceiveConcurrency"] = "1",
                ["BulkDispatch:Flush:ReceiveTimeoutMargin"] = "00:00:01",
            },
            configure: services => services.AddKeyedSingleton<IAmazonSQS>(FlushServiceCollectionExtensions.SqsServiceKey, LosingFirstReceiveAnswer(h.Emulator)));

        var report = await engine.RunAsync();

        output.WriteLine(report.ToText());
        Assert.Equal(0, report.MessagesReceived); // the emulator leased it to the lost answer
        Assert.Equal(FlushStopReason.QueueEmpty, report.StopReason); // the retry was answered empty
        Assert.False(report.QueueDrained, report.ToText());
        Assert.False(report.Complete, report.ToText());
        Assert.Equal(1, report.AbandonedReceives);
        Assert.Contains("VisibilityTimeout (60 s)", report.LastFailure, StringComparison.Ordinal);
        Assert.Equal(1, await h.DepthAsync(h.QueueUrl)); // still in the queue, invisible until the lease lapses
        Assert.Contains(h.Logs.Records.Select(r => r.Message), m => m.Contains("drained=False", StringComparison.Ordinal) && m.Contains("abandonedReceives=1", StringComparison.Ordinal));
    }

    /// <summary>
    /// The real SDK client on the real emulator, whose first ReceiveMessage reaches the emulator but whose answer is
    /// lost on the way back (as when the emulator answers after the flush stopped waiting).
    /// </summary>
    private static AmazonSQSClient LosingFirstReceiveAnswer(SqsEmulator emulator) =>
        new(emulator.Options.Credentials, new AmazonSQSConfig
        {
            ServiceURL = emulator.ServiceUrl.ToString(),
            AuthenticationRegion = SqsEmulator.Region,
            Timeout = TimeSpan.FromSeconds(25),
            HttpClientFactory = new LosingFactory(),
        });

    private sealed class LosingFactory : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new LoseFirstReceiveAnswer(new SocketsHttpHandler()));

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;
    }

    private sealed class LoseFirstReceiveAnswer(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private int _receives;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            bool receive = request.Headers.TryGetValues("X-Amz-Target", out var target) && target.Contains("AmazonSQS.ReceiveMessage");
            if (receive && Interlocked.Increment(ref _receives) == 1)
            {
                await response.Content.ReadAsByteArrayAsync(cancellationToken); // served: its messages are leased
                response.Dispose();
                await Task.Delay(Timeout.Infinite, cancellationToken); // until the flush gives up on it
            }

            return response;
        }
    }
}
