using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;

namespace BulkDispatch.Producer.Benchmarks;

/// <summary>
/// What each wire-format version costs on SQS: the real publisher (default options, but the version) on an SQS client
/// that takes every batch at once, fed the recorded SDK events made unique (uuids, visitor ids, timestamps) and the
/// generated DemoEvents. Reports SQS payload bytes per event, requests and billed 64 KiB chunks per 1,000 events, and
/// the process's CPU per event (publishing thread, pump and SDK-free sends together).
/// </summary>
internal static partial class WireFormatRun
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args)
    {
        int events = args.Length > 0 ? int.Parse(args[0], C) : 20_000;
        int rounds = args.Length > 1 ? int.Parse(args[1], C) : 3;
        var workloads = new (string Name, QueuedEvent[] Events)[]
        {
            ("recorded SDK events, made unique", Recorded(events)),
            ("DemoEvents", Workload.Mix(events)),
        };

        Console.WriteLine(string.Create(C, $"wire formats: {events:N0} events x {rounds} rounds per version, queue MaximumMessageSize 1 MiB, {Environment.ProcessorCount} cores, .NET {Environment.Version}"));
        foreach (var (name, mix) in workloads)
        {
            Console.WriteLine(string.Create(C, $"workload: {name}, {Workload.AverageBodyBytes(mix):N0} body bytes per event on average"));
            foreach (int version in new[] { 1, 2 })
            {
                await PublishAsync(mix, version); // warm-up: JIT, buffers
                var runs = new List<Result>();
                for (int round = 0; round < rounds; round++)
                {
                    runs.Add(await PublishAsync(mix, version));
                }

                var r = runs.OrderBy(x => x.CpuPerEvent).ElementAt(runs.Count / 2);
                Console.WriteLine(string.Create(C,
                    $"  version {version}: {r.BytesPerEvent:0} SQS payload bytes per event, {r.RequestsPerThousand:0.00} SendMessageBatch requests and {r.ChunksPerThousand:0.00} billed 64 KiB chunks per 1,000 events, " +
                    $"CPU {r.CpuPerEvent:0.0} µs per event (median of {rounds}; all: {string.Join(", ", runs.Select(x => x.CpuPerEvent.ToString("0.0", C)))})"));
            }
        }

        return 0;
    }

    private static async Task<Result> PublishAsync(QueuedEvent[] mix, int version)
    {
        using var client = new InstantSqs();
        var options = new ProducerOptions
        {
            Sqs = { QueueUrl = "http://127.0.0.1:9/000000000000/instant", ServiceUrl = Workload.UnreachableServiceUrl },
            BufferBytes = 1L << 30,
            BufferCapacity = mix.Length,
            MaxMessageBytes = 1024 * 1024, // no GetQueueAttributes on this client: SQS's default for a new queue
            WireFormatVersion = version,
        };
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        await using (var publisher = new SqsEventPublisher(options, client, NullLoggerFactory.Instance))
        {
            foreach (var e in mix)
            {
                publisher.TryPublish(e.Url, e.HttpVerb, e.Headers, e.Body);
            }

            await publisher.FlushAsync();
            if (publisher.Statistics.Sent != mix.Length)
            {
                throw new InvalidOperationException($"{publisher.Statistics.Sent} of {mix.Length} events sent: {publisher.Statistics}");
            }
        }

        double cpuMicroseconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        return new Result(
            (double)client.Bytes / mix.Length,
            1000.0 * client.Requests / mix.Length,
            1000.0 * client.Chunks / mix.Length,
            cpuMicroseconds / mix.Length);
    }

    /// <summary>
    /// The recorded events cycled to <paramref name="count"/>, each uuid, visitor id and timestamp changed so no two events
    /// repeat (real traffic never does: repeated bodies would compress far better than production's).
    /// </summary>
    private static QueuedEvent[] Recorded(int count)
    {
        var random = new Random(3);
        var start = DateTimeOffset.UtcNow;
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var v = TestVectors.All[i % TestVectors.All.Count];
            string body = UniqueFields().Replace(v.Body, m => m.Groups["name"].Value switch
            {
                "uuid" => $"\"uuid\":\"{Guid.NewGuid()}\"",
                "visitor_id" => $"\"visitor_id\":\"{m.Groups["text"].Value}~{i.ToString(C)}\"",
                _ => "\"timestamp\":" + (long.Parse(m.Groups["number"].Value, C) + random.Next(1, 3_600_000)).ToString(C),
            });
            return new QueuedEvent(v.Url, v.HttpVerb, v.Headers, body, start);
        })];
    }

    [GeneratedRegex("\"(?<name>uuid|visitor_id)\":\"(?<text>(?:[^\"\\\\]|\\\\.)*)\"|\"(?<name>timestamp)\":(?<number>[0-9]+)")]
    private static partial Regex UniqueFields();

    private sealed record Result(double BytesPerEvent, double RequestsPerThousand, double ChunksPerThousand, double CpuPerEvent);
}
