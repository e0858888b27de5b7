namespace BulkDispatch.Flush.Credentials;

/// <summary>Credentials that can be dropped when AWS refuses them, so the next request fetches new ones.</summary>
internal interface IInvalidatableCredentials
{
    /// <summary>Forgets the cached credentials.</summary>
    void Invalidate();

    /// <summary>Where the credentials come from, for log lines (never a secret).</summary>
    string Describe { get; }
}
