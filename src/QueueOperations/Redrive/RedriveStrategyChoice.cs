namespace BulkDispatch.QueueOperations.Redrive;

/// <summary>The strategies a redrive may use.</summary>
internal enum RedriveStrategyKind
{
    /// <summary>A dry run: peek and count.</summary>
    Peek,

    /// <summary>SQS's StartMessageMoveTask: moves everything, at SQS's pace, where the endpoint has it.</summary>
    MessageMoveTask,

    /// <summary>Receive from the dead-letter queue, send to the queue, delete what was sent; filters by reason, stops at the maximum.</summary>
    ReceiveSendDelete,
}

/// <summary>Which strategies a redrive tries, in order: the first one available on the endpoint runs.</summary>
internal static class RedriveStrategyChoice
{
    /// <summary>Why receive-send-delete runs when the redrive selects messages.</summary>
    public const string SelectionNote = "--reason and --max select messages, and SQS's message-move task can only move them all";

    public static IReadOnlyList<RedriveStrategyKind> Order(RedriveSelection selection, bool dryRun) =>
        dryRun ? [RedriveStrategyKind.Peek]
        : selection.SelectsSome ? [RedriveStrategyKind.ReceiveSendDelete]
        : [RedriveStrategyKind.MessageMoveTask, RedriveStrategyKind.ReceiveSendDelete];

    /// <summary>The note the first strategy in <see cref="Order"/> runs with.</summary>
    public static string? FirstNote(RedriveSelection selection, bool dryRun) => !dryRun && selection.SelectsSome ? SelectionNote : null;
}
