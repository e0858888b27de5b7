using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using BulkDispatch.Core.Wire;
using BulkDispatch.EndToEnd;

// Usage: dotnet run -c Release --project bench/BulkDispatch.Codecs -- [events=50000] [rounds=3] [rawMessageKiB=4096]
int events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
int rawMessageBytes = (args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4096) * 1024;
var c = CultureInfo.InvariantCulture;

string root = FindRoot();
var workload = Workload.Load(root);
using var encoder = new EventEncoder();
var start = DateTimeOffset.UtcNow;
var random = new Random(42);
var messages = new List<byte[]>();
var current = new MemoryStream();
int inMessage = 0;
var perMessage = new List<int>();
for (long i = 0; i < events; i++)
{
    var fragment = encoder.Encode(new QueuedEvent(workload.Url(i), "POST", new Dictionary<string, string> { ["Content-Type"] = "application/json" }, Unique(workload.Body(i), random), start));
    if (current.Length + fragment.Length + 1 > rawMessageBytes && inMessage > 0)
    {
        messages.Add(Close(current));
        perMessage.Add(inMessage);
        current = new MemoryStream();
        inMessage = 0;
    }

    current.WriteByte(current.Length == 0 ? (byte)'[' : (byte)',');
    current.Write(fragment);
    inMessage++;
}

messages.Add(Close(current));
perMessage.Add(inMessage);
long rawBytes = messages.Sum(m => (long)m.Length);
Console.WriteLine(string.Create(c, $"ZstdSharp build: {typeof(ZstdSharp.Compressor).Assembly.GetCustomAttributes(typeof(System.Runtime.Versioning.TargetFrameworkAttribute), false).Cast<System.Runtime.Versioning.TargetFrameworkAttribute>().Single().FrameworkName}; load average: {LoadAverage()}"));
Console.WriteLine(string.Create(c, $"workload: {events} events, {messages.Count} payloads of <= {rawMessageBytes / 1024} KiB raw ({perMessage.Average():0} events each), {rawBytes / (double)events:0} raw bytes per event, {Environment.ProcessorCount} cores, .NET {Environment.Version}"));

var codecs = new (string Name, Func<byte[], byte[]> Compress, Func<byte[], int, byte[]> Decompress)[]
{
    ("deflate-1", b => Deflate(b, 1), Inflate),
    ("deflate-3", b => Deflate(b, 3), Inflate),
    ("deflate-6", b => Deflate(b, 6), Inflate),
    ("brotli-1", b => Brotli(b, 1), Unbrotli),
    ("brotli-3", b => Brotli(b, 3), Unbrotli),
    ("brotli-5", b => Brotli(b, 5), Unbrotli),
    ("zstd-1", b => Zstd(b, 1), Unzstd),
    ("zstd-1+ck", b => Zstd(b, 1, checksum: true), Unzstd),
    ("zstd-3", b => Zstd(b, 3), Unzstd),
    ("zstd-6", b => Zstd(b, 6), Unzstd),
};

var results = codecs.ToDictionary(k => k.Name, _ => (Bytes: 0L, Compress: new List<double>(), Decompress: new List<double>()));
for (int round = 0; round < rounds; round++)
{
    foreach (var codec in round % 2 == 0 ? codecs : codecs.Reverse().ToArray())
    {
        var compressed = new byte[messages.Count][];
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (int m = 0; m < messages.Count; m++)
        {
            compressed[m] = codec.Compress(messages[m]);
        }

        double compressCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        long bytes = compressed.Sum(x => (long)Base64Length(x.Length));
        cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (int m = 0; m < messages.Count; m++)
        {
            var back = codec.Decompress(compressed[m], messages[m].Length);
            if (back.Length != messages[m].Length)
            {
                throw new InvalidOperationException($"{codec.Name}: round trip changed the length");
            }
        }

        double decompressCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        var r = results[codec.Name];
        r.Bytes = bytes;
        r.Compress.Add(compressCpu / events);
        r.Decompress.Add(decompressCpu / events);
        results[codec.Name] = r;
    }
}

Console.WriteLine("codec      ratio  base64 bytes/event  compress µs/event  decompress µs/event   (CPU time, median of rounds)");
foreach (var codec in codecs)
{
    var r = results[codec.Name];
    double rawPlusBase64 = r.Bytes;
    Console.WriteLine(string.Create(c, $"{codec.Name,-10} {rawBytes * 4.0 / 3 / rawPlusBase64,5:0.0}x {r.Bytes / (double)events,12:0.0} {Median(r.Compress),18:0.00} {Median(r.Decompress),20:0.00}"));
}

Console.WriteLine(string.Create(c, $"(ratio = raw bytes / compressed bytes, both base64-free: {rawBytes} raw bytes; v1 messages would carry about {rawBytes / (double)events:0} bytes per event)"));

// The workload cycles 931 recorded events; a codec with a window of megabytes would find whole repeated
// bodies, which real traffic does not have. Every uuid, visitor id and timestamp is made unique here.
static string Unique(string body, Random random)
{
    body = Regex.Replace(body, "\"uuid\":\"[0-9a-fA-F-]{36}\"", _ => $"\"uuid\":\"{new Guid(random.GetItems<byte>(Enumerable.Range(0, 256).Select(b => (byte)b).ToArray(), 16))}\"");
    body = Regex.Replace(body, "\"visitor_id\":\"((?:[^\"\\\\]|\\\\.)*)\"", m => $"\"visitor_id\":\"{m.Groups[1].Value}-{random.Next():x8}\"");
    return Regex.Replace(body, "\"timestamp\":(\\d+)", m => $"\"timestamp\":{long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + random.Next(0, 86_400_000)}");
}

static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

static int Base64Length(int n) => (n + 2) / 3 * 4;

static byte[] Close(MemoryStream s)
{
    s.WriteByte((byte)']');
    return s.ToArray();
}

static byte[] Deflate(byte[] input, int level)
{
    using var output = new MemoryStream(input.Length / 8);
    using (var z = new ZLibStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
    {
        z.Write(input);
    }

    return output.ToArray();
}

static byte[] Inflate(byte[] input, int size)
{
    var output = new byte[size];
    using var z = new ZLibStream(new MemoryStream(input), CompressionMode.Decompress);
    z.ReadExactly(output);
    return output;
}

static byte[] Brotli(byte[] input, int quality)
{
    var output = new byte[BrotliEncoder.GetMaxCompressedLength(input.Length)];
    if (!BrotliEncoder.TryCompress(input, output, out int written, quality, 22))
    {
        throw new InvalidOperationException("brotli");
    }

    return output[..written];
}

static byte[] Unbrotli(byte[] input, int size)
{
    var output = new byte[size];
    if (!BrotliDecoder.TryDecompress(input, output, out int written) || written != size)
    {
        throw new InvalidOperationException("unbrotli");
    }

    return output;
}

// One compressor per level and one decompressor, reused, as the product's writer and reader keep theirs.
static byte[] Zstd(byte[] input, int level, bool checksum = false)
{
    var compressor = ZstdContexts.Compressor(level, checksum);
    return compressor.Wrap(input).ToArray();
}

static byte[] Unzstd(byte[] input, int size)
{
    var output = new byte[size];
    int n = ZstdContexts.Decompressor.Unwrap(input, output, 0);
    return n == size ? output : throw new InvalidOperationException("unzstd");
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "BulkDispatch.sln")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("Run from inside the repository.");
}

internal static class ZstdContexts
{
    private static readonly Dictionary<(int, bool), ZstdSharp.Compressor> Compressors = [];

    public static ZstdSharp.Decompressor Decompressor { get; } = new();

    public static ZstdSharp.Compressor Compressor(int level, bool checksum)
    {
        if (!Compressors.TryGetValue((level, checksum), out var compressor))
        {
            compressor = new ZstdSharp.Compressor(level);
            compressor.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, checksum ? 1 : 0);
            Compressors[(level, checksum)] = compressor;
        }

        return compressor;
    }
}
