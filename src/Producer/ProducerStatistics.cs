namespace BulkDispatch.Producer;

/// <summary>Counts since the publisher was created. Every published event ends up sent, dropped or refused.</summary>
/// <param name="Published">Events accepted by <c>TryPublish</c>.</param>
/// <param name="Sent">Events SQS has stored.</param>
/// <param name="Dropped">Events lost to a full buffer, to publishing after disposal, or to the disposal deadline.</param>
/// <param name="Refused">Events that could never be delivered: invalid, too large, or rejected by SQS as invalid.</param>
/// <param name="SendRequests">SendMessageBatch requests made (retries included).</param>
/// <param name="Buffered">Events accepted and not yet sent, dropped or refused.</param>
public sealed record ProducerStatistics(long Published, long Sent, long Dropped, long Refused, long SendRequests, long Buffered);
