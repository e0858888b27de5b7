namespace BulkDispatch.Core.Sqs;

/// <summary>
/// AWS credentials that can be dropped when AWS refuses them, so the next request fetches new ones (a key rotated in a
/// vault, revoked temporary credentials). An <see cref="SqsGateway"/> given such credentials retries a refused call once.
/// </summary>
public interface IRefreshableCredentials
{
    /// <summary>Counts the times the credentials were fetched; 0 before the first fetch.</summary>
    long Generation { get; }

    /// <summary>Where the credentials come from, for log lines (never a secret).</summary>
    string Describe { get; }

    /// <summary>
    /// Forgets the cached credentials if they are still those of <paramref name="generation"/> (the ones a refused
    /// request was sent with), so several requests refused at once cause one fetch, not one each.
    /// </summary>
    void Invalidate(long generation);
}
