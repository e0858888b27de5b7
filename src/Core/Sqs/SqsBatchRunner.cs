using System.Globalization;
using Amazon.SQS.Model;

namespace BulkDispatch.Core.Sqs;

/// <summary>
/// Runs a batch call chunk by chunk and records one outcome per item: each chunk goes through the gateway's resilience
/// pipeline, whose retries send again only the entries SQS failed for reasons a retry may fix.
/// </summary>
internal sealed class SqsBatchRunner(SqsResilience resilience)
{
    /// <summary>Sends the items at <paramref name="items"/> (entry ids are their positions in that list, "0" to "9").</summary>
    public delegate Task<ChunkAnswer> SendChunk(IReadOnlyList<int> items, CancellationToken cancellationToken);

    /// <summary>Sends the chunks one after the other; <paramref name="outcomes"/> already holds those of items not to send.</summary>
    public async Task<SqsBatchResult> RunAsync(
        string operation, SqsItemOutcome[] outcomes, IEnumerable<List<int>> chunks, SendChunk send, SqsRetryPolicy? policy, CancellationToken cancellationToken)
    {
        var run = new Run(operation, outcomes, send, policy, cancellationToken);
        foreach (var chunk in chunks)
        {
            await RunChunkAsync(run, chunk).ConfigureAwait(false);
        }

        return new SqsBatchResult(run.Outcomes, run.Requests);
    }

    private async Task RunChunkAsync(Run run, List<int> items)
    {
        if (run.Stopped is { } stop)
        {
            // After a fatal error or a cancellation the other chunks are not sent: they would fail the same way.
            Fail(run, items, stop.Kind, stop.Code, stop.Message);
            return;
        }

        var pending = items;
        try
        {
            await resilience.ExecuteAsync(
                run.Operation,
                run.Policy,
                Timeout.InfiniteTimeSpan,
                async token =>
                {
                    var sent = pending;
                    run.Requests++;
                    var answer = await run.Send(sent, token).ConfigureAwait(false);
                    pending = Record(run, sent, answer);
                    return new Attempt(pending.Count);
                },
                run.CancellationToken).ConfigureAwait(false);
        }
        catch (SqsRequestFailedException ex) when (SqsErrors.IsBatchTooLong(ex.ErrorCode) && pending.Count > 1)
        {
            // The queue's batch limit is smaller than the one the chunks were cut to: halve and send again.
            int half = pending.Count / 2;
            await RunChunkAsync(run, pending.GetRange(0, half)).ConfigureAwait(false);
            await RunChunkAsync(run, pending.GetRange(half, pending.Count - half)).ConfigureAwait(false);
        }
        catch (SqsRequestFailedException ex)
        {
            Fail(run, pending, ex.Kind, ex.ErrorCode, ex.Message);
            if (ex.Kind == SqsFailureKind.Fatal)
            {
                run.Stopped = (ex.Kind, ex.ErrorCode, ex.Message);
            }
        }
        catch (OperationCanceledException) when (run.CancellationToken.IsCancellationRequested)
        {
            run.Stopped = (SqsFailureKind.Transient, "Cancelled", $"the {run.Operation} call was cancelled before SQS answered");
            Fail(run, pending, run.Stopped.Value.Kind, run.Stopped.Value.Code, run.Stopped.Value.Message);
        }
    }

    /// <summary>Records SQS's answer for the entries sent; returns those to send again (failed, but not the sender's fault).</summary>
    private static List<int> Record(Run run, List<int> sent, ChunkAnswer answer)
    {
        var answered = new bool[sent.Count];
        var again = new List<int>();
        foreach (var id in answer.Successful)
        {
            if (Position(id, sent.Count) is int i)
            {
                answered[i] = true;
                run.Outcomes[sent[i]] = SqsItemOutcome.Ok;
            }
        }

        foreach (var failed in answer.Failed)
        {
            if (Position(failed.Id, sent.Count) is int i)
            {
                answered[i] = true;
                var kind = SqsErrors.ClassifyEntry(failed.SenderFault);
                run.Outcomes[sent[i]] = SqsItemOutcome.Failed(kind, failed.Code ?? "", failed.Message);
                if (kind == SqsFailureKind.Transient)
                {
                    again.Add(sent[i]);
                }
            }
        }

        for (int i = 0; i < sent.Count; i++)
        {
            if (!answered[i])
            {
                run.Outcomes[sent[i]] = SqsItemOutcome.Failed(SqsFailureKind.Transient, "NotReported", $"SQS {run.Operation} reported neither success nor failure for this entry");
                again.Add(sent[i]);
            }
        }

        return again;
    }

    private static void Fail(Run run, IEnumerable<int> items, SqsFailureKind kind, string code, string message)
    {
        foreach (int i in items)
        {
            run.Outcomes[i] = SqsItemOutcome.Failed(kind, code, message);
        }
    }

    private static int? Position(string? id, int count) =>
        int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i < count ? i : null;

    /// <summary>Entry ids for the items of a chunk: their positions.</summary>
    public static string Id(int position) => position.ToString(CultureInfo.InvariantCulture);

    /// <summary>What SQS answered for one chunk.</summary>
    public readonly record struct ChunkAnswer(IEnumerable<string> Successful, IEnumerable<BatchResultErrorEntry> Failed);

    private sealed record Attempt(int Retryable) : IRetryableResult;

    private sealed class Run(string operation, SqsItemOutcome[] outcomes, SendChunk send, SqsRetryPolicy? policy, CancellationToken cancellationToken)
    {
        public string Operation { get; } = operation;

        public SqsItemOutcome[] Outcomes { get; } = outcomes;

        public SendChunk Send { get; } = send;

        public SqsRetryPolicy? Policy { get; } = policy;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public int Requests { get; set; }

        public (SqsFailureKind Kind, string Code, string Message)? Stopped { get; set; }
    }
}
