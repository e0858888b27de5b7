using BulkDispatch.Core.Wire;

namespace BulkDispatch.UnitTests.Core;

/// <summary>The declared payload size the flush charges before decoding: read from the envelope only, 0 when not stated up front.</summary>
public sealed class DeclaredSizeTests
{
    [Theory]
    [InlineData("""{"format":"bulkdispatch","version":2,"codec":"zstd","size":1048002,"count":484,"payload":"KLUv"}""", 1048002)]
    [InlineData("""{"version":2,"size":7,"payload":"not read"}""", 7)]
    [InlineData("""{"format":"bulkdispatch","version":1,"events":[]}""", 0)]
    [InlineData("""{"format":"bulkdispatch","version":2,"payload":"KLUv","size":9}""", 0)] // after the payload: the decoder settles it
    [InlineData("""{"format":"bulkdispatch","version":2,"codec":"zstd","size":-1,"count":1,"payload":"KLUv"}""", 0)]
    [InlineData("""{"format":"bulkdispatch","version":2,"size":{"a":1},"payload":""}""", 0)]
    [InlineData("""{"visitor":[[],{}]}""", 0)]
    [InlineData("""not json""", 0)]
    public void Reads_the_size_a_version_2_envelope_states_before_its_payload(string message, long expected) =>
        Assert.Equal(expected, CompressedEnvelope.DeclaredSize(System.Text.Encoding.UTF8.GetBytes(message)));
}
