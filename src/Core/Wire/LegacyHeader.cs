namespace BulkDispatch.Core.Wire;

/// <summary>
/// The EventBatch header the Python reference producer did not put into its messages; legacy
/// messages are delivered under this header (from the <c>BulkDispatch__Legacy__*</c> settings).
/// </summary>
internal sealed record LegacyHeader(
    string Url,
    string AccountId,
    string ProjectId,
    string ClientName,
    string ClientVersion,
    bool AnonymizeIp,
    bool EnrichDecisions);
