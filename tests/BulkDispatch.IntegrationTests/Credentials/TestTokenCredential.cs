using System.Collections.Concurrent;
using Azure.Core;
using Azure.Identity;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>An Azure identity for tests: hands out a token per scope and records what was asked; or fails like a machine with no identity.</summary>
internal sealed class TestTokenCredential(bool unavailable = false) : TokenCredential
{
    public ConcurrentQueue<TokenRequestContext> Requests { get; } = new();

    /// <summary>The token this credential gives for <paramref name="scope"/> (what the servers expect).</summary>
    public static string TokenFor(string scope) => "test-token-for:" + scope;

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        Requests.Enqueue(requestContext);
        return unavailable
            ? throw new CredentialUnavailableException("DefaultAzureCredential failed to retrieve a token from the included credentials (test: no identity here).")
            : new AccessToken(TokenFor(string.Join(" ", requestContext.Scopes)), DateTimeOffset.UtcNow.AddHours(1));
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));
}
