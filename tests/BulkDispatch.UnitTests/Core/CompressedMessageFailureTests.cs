using System.Text;
using BulkDispatch.Core.Events;
using BulkDispatch.Core.Wire;
using BulkDispatch.Tests.Shared;
using static BulkDispatch.UnitTests.Core.CompressedWire;

namespace BulkDispatch.UnitTests.Core;

/// <summary>
/// A version-2 message that can never be read is dead-lettered with a reason and a detail, never a crash and never
/// more memory than its declared size (itself limited): bad numbers, bad base64, corrupt, truncated or lying frames,
/// zstd bombs, unknown codecs, repeated fields.
/// </summary>
public sealed class CompressedMessageFailureTests
{
    private static readonly byte[] TwoEvents = Payload(Fragments(TestVectors.All.Take(2)));

    private static string Base64Frame => Convert.ToBase64String(Frame(TwoEvents));

    [Theory]
    [InlineData("gzip")]
    [InlineData("Zstd")]
    [InlineData("zstd ")]
    [InlineData("")]
    [InlineData("br\\n")]
    public void An_unknown_codec_is_an_unknown_version_so_upgrade_and_redrive_bring_it_back(string codec)
    {
        var pool = new CountingPool();
        var result = Decode(Fields($"\"codec\":\"{codec}\",\"size\":{TwoEvents.Length},\"count\":2,\"payload\":\"{Base64Frame}\""), pool);

        Assert.Equal(DeadLetterReason.UnknownVersion, result.FailureReason);
        Assert.Contains("unknown codec '", result.FailureDetail, StringComparison.Ordinal);
        Assert.Contains("upgrade the flush, then redrive", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(pool.Sizes);
    }

    [Fact]
    public void The_codec_name_is_compared_after_unescaping_as_every_json_reader_does()
    {
        var result = Decode(Fields($"\"codec\":\"\\u007Astd\",\"size\":{TwoEvents.Length},\"count\":2,\"payload\":\"{Base64Frame}\""));

        Assert.True(result.Succeeded, result.FailureDetail);
    }

    [Theory]
    [InlineData("", "Version-2 message has no 'codec'")]
    [InlineData("\"codec\":1,", "Message 'codec' must be a string, not 1")]
    [InlineData("\"codec\":null,", "Message 'codec' must be a string, not null")]
    [InlineData("\"codec\":[\"zstd\"],", "Message 'codec' must be a string, not an array")]
    public void A_missing_or_non_string_codec_is_undecodable(string codec, string detail)
    {
        var result = Decode(Fields($"{codec}\"size\":{TwoEvents.Length},\"count\":2,\"payload\":\"{Base64Frame}\""));

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith(detail, result.FailureDetail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "Version-2 message has no 'size'")]
    [InlineData("\"size\":-1,", "Message 'size' must be a non-negative integer (the payload's bytes after decompression), not -1")]
    [InlineData("\"size\":-0,", "Message 'size' must be a non-negative integer (the payload's bytes after decompression), not -0")]
    [InlineData("\"size\":1.5,", "Message 'size' must be a non-negative integer (the payload's bytes after decompression), not 1.5")]
    [InlineData("\"size\":1e3,", "Message 'size' must be a non-negative integer (the payload's bytes after decompression), not 1e3")]
    [InlineData("\"size\":\"100\",", "Message 'size' must be a non-negative integer (the payload's bytes after decompression), not the string \"100\"")]
    [InlineData("\"size\":true,", "Message 'size' must be a non-negative integer (the payload's bytes after decompression), not true")]
    [InlineData("\"size\":{},", "Message 'size' must be a non-negative integer (the payload's bytes after decompression), not an object")]
    [InlineData("\"size\":8388609,", "Message 'size' 8388609 is over this reader's limit of 8388608 bytes")]
    [InlineData("\"size\":2147483648,", "Message 'size' 2147483648 is over this reader's limit of 8388608 bytes")]
    [InlineData("\"size\":99999999999999999999999999,", "Message 'size' 99999999999999999999999999 is over this reader's limit of 8388608 bytes")]
    [InlineData("\"count\":-3,", "Message 'count' must be a non-negative integer (the number of events), not -3")]
    [InlineData("\"count\":2.0,", "Message 'count' must be a non-negative integer (the number of events), not 2.0")]
    [InlineData("\"count\":\"2\",", "Message 'count' must be a non-negative integer (the number of events), not the string \"2\"")]
    [InlineData("\"payload\":null,", "Message 'payload' must be a string (base64), not null")]
    [InlineData("\"payload\":[\"KLUv\"],", "Message 'payload' must be a string (base64), not an array")]
    public void A_missing_or_bad_number_or_payload_field_is_undecodable_before_anything_is_decompressed(string field, string detail)
    {
        string name = field.Length == 0 ? "size" : field[1..field.IndexOf('"', 1)];
        var fields = new Dictionary<string, string>
        {
            ["codec"] = "\"codec\":\"zstd\",",
            ["size"] = $"\"size\":{TwoEvents.Length},",
            ["count"] = "\"count\":2,",
            ["payload"] = $"\"payload\":\"{Base64Frame}\",",
        };
        fields[name] = field;
        var pool = new CountingPool();

        var result = Decode(Fields(string.Concat(fields.Values).TrimEnd(',')), pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith(detail, result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(pool.Sizes);
    }

    [Theory]
    [InlineData("count")]
    [InlineData("payload")]
    public void A_missing_count_or_payload_is_undecodable(string missing)
    {
        string count = missing == "count" ? "" : ",\"count\":2";
        string payload = missing == "payload" ? "" : $",\"payload\":\"{Base64Frame}\"";

        var result = Decode(Fields($"\"codec\":\"zstd\",\"size\":{TwoEvents.Length}{count}{payload}"));

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith($"Version-2 message has no '{missing}'", result.FailureDetail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("KLUv!A==")]
    [InlineData("KLUv/Q")] // padding missing
    [InlineData("KLUv/Q=")]
    [InlineData("KLUv/Q===")]
    [InlineData("KLUv-_A=")] // the URL-safe alphabet
    [InlineData("é")]
    [InlineData("KLUv /SQCEQAAW11WH39h")] // whitespace, which .NET's decoder on net10.0 would skip (and on netstandard2.0 not)
    [InlineData("KLUv\\n/SQCEQAAW11WH39h")]
    [InlineData("KLUv/SQCEQAAW11WH39h\\r\\n")]
    [InlineData("\\tKLUv/SQCEQAAW11WH39h")]
    public void A_payload_that_is_not_base64_is_undecodable(string payload)
    {
        Assert.True(Decode(Fields("\"codec\":\"zstd\",\"size\":2,\"count\":0,\"payload\":\"KLUv/SQCEQAAW11WH39h\"")).Succeeded); // "[]", as written
        var pool = new CountingPool();
        var result = Decode(Fields($"\"codec\":\"zstd\",\"size\":{TwoEvents.Length},\"count\":2,\"payload\":\"{payload}\""), pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Equal("Message 'payload' is not valid base64 (RFC 4648, with padding).", result.FailureDetail);
        Assert.Empty(pool.Sizes);
    }

    [Fact]
    public void A_payload_with_json_escapes_is_read_as_its_unescaped_text()
    {
        string escaped = Base64Frame.Replace("/", "\\/", StringComparison.Ordinal).Replace("A", "\\u0041", StringComparison.Ordinal);
        Assert.Contains("\\u0041", escaped, StringComparison.Ordinal);

        var result = Decode(Fields($"\"codec\":\"zstd\",\"size\":{TwoEvents.Length},\"count\":2,\"payload\":\"{escaped}\""));

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Equal(2, result.Events.Count);
    }

    [Fact]
    public void Fields_in_any_order_and_unknown_fields_are_fine_and_events_is_unknown_to_version_2()
    {
        string message =
            $"{{\"payload\":\"{Base64Frame}\",\"events\":[],\"count\":2,\"trace\":{{\"x\":[1]}},\"size\":{TwoEvents.Length},\"events\":{{}}," +
            "\"codec\":\"zstd\",\"version\":2,\"format\":\"bulkdispatch\"}";

        var result = Decode(message);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Equal(2, result.Events.Count);
    }

    [Theory]
    [InlineData("codec", "\"zstd\"")]
    [InlineData("size", "SIZE")]
    [InlineData("count", "2")]
    [InlineData("payload", "\"PAYLOAD\"")]
    [InlineData("format", "\"bulkdispatch\"")]
    [InlineData("version", "2")]
    public void A_version_2_message_that_repeats_an_envelope_field_is_undecodable(string field, string value)
    {
        value = value.Replace("SIZE", TwoEvents.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("PAYLOAD", Base64Frame, StringComparison.Ordinal);
        string message = Message(TwoEvents, 2);
        string escapedName = "\\u00" + ((int)field[0]).ToString("x2", System.Globalization.CultureInfo.InvariantCulture) + field[1..];
        var pool = new CountingPool();

        // The same value again (and under an escaped name): even an agreeing copy is refused, as in version 1.
        var result = Decode(message[..^1] + $",\"{escapedName}\":{value}}}", pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith($"Message has 2 '{field}' fields", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(pool.Sizes);
    }

    [Fact]
    public void A_version_1_message_ignores_version_2_fields()
    {
        string v1 = WireFormat.Encode([Queued(TestVectors.All[0], 0)]);

        var result = Decode(v1[..^1] + ",\"codec\":\"gzip\",\"codec\":1,\"size\":-1,\"payload\":null}");

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Single(result.Events);
    }

    [Fact]
    public void A_legacy_message_may_name_visitors_codec_size_count_and_payload()
    {
        var legacy = new LegacyHeader("https://logx.optimizely.com/v1/events", "1", "2", "python-sdk", "5.0.1", true, true);
        string pair = "[[{\"key\":\"k\",\"value\":1}],{\"decisions\":[],\"events\":[]}]";
        string message = $"{{\"codec\":{pair},\"size\":{pair},\"count\":{pair},\"payload\":{pair}}}";

        var result = MessageDecoder.Decode(message, legacy);

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.True(result.IsLegacy);
        Assert.True(EventBatchParts.TryRead(result.Events.Single().Body, out var parts, out var error), error);
        Assert.Equal(4, parts!.Visitors.Count);
    }

    [Fact]
    public void A_count_other_than_the_events_in_the_payload_is_undecodable_and_the_buffer_goes_back()
    {
        var pool = new CountingPool();
        var result = Decode(Message(TwoEvents, 3), pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Equal("Message 'count' is 3, but its payload holds 2 events.", result.FailureDetail);
        Assert.Null(result.Payload);
        Assert.Equal([TwoEvents.Length], pool.Sizes);
        Assert.Equal(1, pool.Returned);
    }

    [Theory]
    [InlineData("4294967298")] // 2 + 2^32: the real count, were it cut to 32 bits
    [InlineData("18446744073709551618")] // 2 + 2^64
    public void A_count_too_large_for_an_int_is_a_mismatch_not_wrapped_round(string count)
    {
        var pool = new CountingPool();
        var result = Decode(Fields($"\"codec\":\"zstd\",\"size\":{TwoEvents.Length},\"count\":{count},\"payload\":\"{Base64Frame}\""), pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith("Message 'count' is ", result.FailureDetail, StringComparison.Ordinal);
        Assert.EndsWith(", but its payload holds 2 events.", result.FailureDetail, StringComparison.Ordinal);
        Assert.Equal(pool.Sizes.Count, pool.Returned);
    }

    [Theory]
    [InlineData("{}", "Compressed payload is not a JSON array of events.")]
    [InlineData("[] []", "Compressed payload is not valid JSON:")]
    [InlineData("[] x", "Compressed payload is not valid JSON:")]
    [InlineData("[{\"url\":\"https://logx.optimizely.com/v1/events\",\"body\":{}", "Compressed payload is not valid JSON:")]
    [InlineData("", "Compressed payload is not valid JSON:")]
    [InlineData("[1]", "Event 0 is not a JSON object.")]
    [InlineData("[{\"url\":\"https://logx.optimizely.com/v1/events\",\"url\":\"https://evil.example/\",\"body\":{}}]", "Event 0 has two 'url' fields.")]
    [InlineData("[{\"url\":\"https://logx.optimizely.com/v1/events\",\"body\":{},\"bodyText\":\"{}\"}]", "Event 0 has both 'body' and 'bodyText'.")]
    [InlineData("[{\"url\":\"\\ud800\",\"body\":{}}]", "Compressed payload holds a string that is not valid UTF-16:")]
    public void A_payload_that_is_not_an_array_of_valid_events_is_undecodable_as_in_version_1(string payload, string detail)
    {
        var pool = new CountingPool();
        var result = Decode(Message(Encoding.UTF8.GetBytes(payload), 1), pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith(detail, result.FailureDetail, StringComparison.Ordinal);
        Assert.Equal(pool.Sizes.Count, pool.Returned);
    }

    [Fact]
    public void A_body_carried_as_bodyText_in_the_payload_is_read_as_in_version_1()
    {
        var vector = TestVectors.All.First(v => v.Body.Any(char.IsSurrogate));
        var fragments = Fragments([vector]);
        Assert.Contains("\"bodyText\":", Encoding.UTF8.GetString(fragments[0]), StringComparison.Ordinal);

        var result = Decode(Message(Payload(fragments), 1));

        Assert.True(result.Succeeded, result.FailureDetail);
        Assert.Equal(Encoding.UTF8.GetBytes(vector.Body), result.Events.Single().Body.ToArray());
    }

    [Fact]
    public void A_frame_that_declares_another_size_than_the_message_is_refused_before_anything_is_taken_from_the_pool()
    {
        var pool = new CountingPool();
        var result = Decode(Message(Frame(TwoEvents), TwoEvents.Length - 1, 2), pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Equal($"Compressed payload's zstd frame declares {TwoEvents.Length} bytes, but the message 'size' is {TwoEvents.Length - 1}.", result.FailureDetail);
        Assert.Empty(pool.Sizes);
    }

    [Fact]
    public void A_frame_without_its_content_size_is_refused()
    {
        var pool = new CountingPool();
        var result = Decode(Message(Frame(TwoEvents, contentSize: false), TwoEvents.Length, 2), pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith("Compressed payload's zstd frame does not declare its content size", result.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(pool.Sizes);
    }

    [Fact]
    public void A_frame_without_a_checksum_is_read_and_one_with_a_checksum_is_verified()
    {
        var plain = Decode(Message(Frame(TwoEvents, checksum: false), TwoEvents.Length, 2));
        Assert.True(plain.Succeeded, plain.FailureDetail);

        byte[] frame = Frame(TwoEvents);
        frame[^1] ^= 0x01; // the last byte is the checksum's
        var result = Decode(Message(frame, TwoEvents.Length, 2));
        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith("Compressed payload is corrupt or truncated", result.FailureDetail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("AAAA")]
    [InlineData("KLUv/Q==")] // the magic number and nothing else
    [InlineData("UCpNGAAAAAA=")] // a skippable frame: no content at all
    public void Bytes_that_are_no_zstd_frame_are_corrupt(string payload)
    {
        var result = Decode(Fields($"\"codec\":\"zstd\",\"size\":0,\"count\":0,\"payload\":\"{payload}\""));

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith("Compressed payload is corrupt or truncated", result.FailureDetail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bomb_that_declares_a_huge_output_is_refused_before_anything_is_decompressed()
    {
        byte[] zeros = new byte[64 * 1024 * 1024];
        byte[] bomb = Frame(zeros);
        Assert.True(bomb.Length < 8 * 1024, $"The bomb is small ({bomb.Length} bytes).");
        var pool = new CountingPool();

        var honest = Decode(Message(bomb, zeros.Length, 0), pool);
        var lying = Decode(Message(bomb, 1000, 0), pool);

        Assert.Equal(DeadLetterReason.Undecodable, honest.FailureReason);
        Assert.Equal($"Message 'size' {zeros.Length} is over this reader's limit of {WireFormat.MaxPayloadBytes} bytes for a decompressed payload.", honest.FailureDetail);
        Assert.Equal(DeadLetterReason.Undecodable, lying.FailureReason);
        Assert.StartsWith($"Compressed payload's zstd frame declares {zeros.Length} bytes", lying.FailureDetail, StringComparison.Ordinal);
        Assert.Empty(pool.Sizes);
    }

    [Fact]
    public void A_bomb_whose_header_lies_fills_only_the_declared_buffer_and_is_refused()
    {
        // A real frame of the declared size, then a second, tiny frame that expands to 64 MiB of zeros.
        byte[] bomb = [.. Frame(TwoEvents), .. Frame(new byte[64 * 1024 * 1024])];
        var pool = new CountingPool();

        long before = GC.GetAllocatedBytesForCurrentThread();
        var result = Decode(Message(bomb, TwoEvents.Length, 2), pool);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.Equal($"Compressed payload is corrupt or truncated: it holds more than the {TwoEvents.Length} bytes the message declares.", result.FailureDetail);
        Assert.Equal([TwoEvents.Length], pool.Sizes);
        Assert.Equal(1, pool.Returned);
        Assert.True(allocated < 4 * 1024 * 1024, $"Decoding the bomb allocated {allocated} bytes.");
    }

    [Fact]
    public void A_frame_whose_content_size_field_was_lowered_is_refused_without_writing_past_the_buffer()
    {
        byte[] frame = Frame(new byte[300_000]);
        Assert.Equal(300_000, CompressedPayloadReader.DeclaredContentSize(frame));
        byte[] lowered = LowerContentSize(frame, 300_000, 1000);
        Assert.Equal(1000, CompressedPayloadReader.DeclaredContentSize(lowered));
        var pool = new CountingPool();

        var result = Decode(Message(lowered, 1000, 0), pool);

        Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        Assert.StartsWith("Compressed payload is corrupt or truncated", result.FailureDetail, StringComparison.Ordinal);
        Assert.Equal([1000], pool.Sizes);
        Assert.True(pool.Buffers[0].Span[1000..].ToArray().All(b => b == (byte)'#'), "Nothing was written past the declared size.");
    }

    [Fact]
    public void Every_truncation_of_the_frame_or_of_its_base64_is_undecodable()
    {
        byte[] frame = Frame(TwoEvents);
        string base64 = Convert.ToBase64String(frame);
        var pool = new CountingPool();
        for (int cut = 0; cut < frame.Length; cut++)
        {
            var result = Decode(Message(frame[..cut], TwoEvents.Length, 2), pool);
            Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        }

        for (int cut = 0; cut < base64.Length; cut++)
        {
            var result = Decode(Fields($"\"codec\":\"zstd\",\"size\":{TwoEvents.Length},\"count\":2,\"payload\":\"{base64[..cut]}\""), pool);
            Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
        }

        Assert.Equal(pool.Sizes.Count, pool.Returned);
    }

    [Fact]
    public void Random_corruption_of_the_frame_never_throws_and_never_yields_other_bytes()
    {
        var fragments = Fragments(TestVectors.All.Take(12));
        byte[] payload = Payload(fragments);
        var expected = TestVectors.All.Take(12).Select(v => v.Body).ToList();
        byte[] frame = Frame(payload);
        var random = new Random(20261128);
        var pool = new CountingPool();
        int read = 0;
        for (int i = 0; i < 3000; i++)
        {
            byte[] corrupt = (byte[])frame.Clone();
            for (int e = random.Next(1, 4); e > 0; e--)
            {
                corrupt[random.Next(corrupt.Length)] = (byte)random.Next(256);
            }

            DecodeResult? result = null;
            var thrown = Record.Exception(() => result = Decode(Message(corrupt, payload.Length, 12), pool));

            Assert.True(thrown is null, $"Decode threw {thrown?.GetType().Name}: {thrown?.Message}");
            if (result!.Succeeded)
            {
                // Only a change that does not touch the content (or a byte set to its own value) may pass.
                Assert.Equal(expected, result.Events.Select(e => Encoding.UTF8.GetString(e.Body.Span)));
                result.Payload!.Dispose();
                read++;
            }
            else
            {
                Assert.Equal(DeadLetterReason.Undecodable, result.FailureReason);
                Assert.False(string.IsNullOrWhiteSpace(result.FailureDetail));
            }
        }

        Assert.True(read < 3000, "Corruption was noticed at least once.");
        Assert.Equal(pool.Sizes.Count, pool.Returned);
    }

    [Fact]
    public void Random_bytes_as_the_payload_never_throw()
    {
        var random = new Random(7);
        var pool = new CountingPool();
        for (int i = 0; i < 2000; i++)
        {
            byte[] noise = new byte[random.Next(0, 600)];
            random.NextBytes(noise);
            if (i % 2 == 0 && noise.Length >= 4)
            {
                new byte[] { 0x28, 0xB5, 0x2F, 0xFD }.CopyTo(noise, 0); // the zstd magic number, to get past the first check
            }

            long? declared = CompressedPayloadReader.DeclaredContentSize(noise);
            long size = declared is >= 0 and <= 100_000 ? declared.Value : random.Next(0, 5000);
            DecodeResult? result = null;
            var thrown = Record.Exception(() => result = Decode(Message(noise, size, random.Next(0, 3)), pool));

            Assert.True(thrown is null, $"Decode threw {thrown?.GetType().Name}: {thrown?.Message}");
            Assert.Equal(DeadLetterReason.Undecodable, result!.FailureReason);
        }

        Assert.Equal(pool.Sizes.Count, pool.Returned);
    }

    [Fact]
    public void Random_edits_of_a_whole_version_2_message_never_throw()
    {
        string message = Message(TwoEvents, 2);
        var random = new Random(99);
        char[] noise = ['{', '}', '[', ']', '"', ',', ':', '\\', 'x', '1', ' ', '=', '/', '+', 'é', '\uD83D'];
        var pool = new CountingPool();
        for (int i = 0; i < 3000; i++)
        {
            var chars = message.ToCharArray();
            for (int e = random.Next(1, 4); e > 0; e--)
            {
                chars[random.Next(chars.Length)] = noise[random.Next(noise.Length)];
            }

            string candidate = i % 3 == 0 ? new string(chars, 0, random.Next(chars.Length)) : new string(chars);
            DecodeResult? result = null;
            var thrown = Record.Exception(() => result = Decode(candidate, pool));

            Assert.True(thrown is null, $"Decode threw {thrown?.GetType().Name} for: {candidate}");
            Assert.True(result!.Succeeded || result.FailureReason is DeadLetterReason.Undecodable or DeadLetterReason.UnknownVersion or DeadLetterReason.LegacySettingsMissing, result.FailureReason);
            result.Payload?.Dispose();
        }

        Assert.Equal(pool.Sizes.Count, pool.Returned);
    }

    /// <summary>The frame with its Frame_Content_Size field (RFC 8878, 3.1.1.1) rewritten, in the same field width.</summary>
    private static byte[] LowerContentSize(byte[] frame, int from, int to)
    {
        byte[] copy = (byte[])frame.Clone();
        int width = (copy[4] >> 6) switch { 1 => 2, 2 => 4, 3 => 8, _ => 1 };
        int at = 5 + ((copy[4] & 0x20) != 0 ? 0 : 1) + (copy[4] & 3) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
        Assert.Equal(4, width);
        Assert.Equal(from, BitConverter.ToInt32(copy, at));
        BitConverter.GetBytes(to).CopyTo(copy, at);
        return copy;
    }
}
