using System.Collections.Concurrent;
using System.Text.Json;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;
using Microsoft.AspNetCore.Http;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>
/// The part of the Azure Key Vault secrets REST API that <c>SecretClient.GetSecretAsync</c> uses, over HTTPS on
/// loopback: <c>GET /secrets/{name}/{version?}?api-version=...</c>, the bearer challenge, and the errors a real vault gives.
/// </summary>
internal sealed class LocalKeyVault : IAsyncDisposable
{
    public const string TenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    public const string Scope = "https://vault.azure.net/.default";

    private readonly LoopbackServer _server;
    private readonly ConcurrentDictionary<string, string> _secrets = new(StringComparer.OrdinalIgnoreCase);

    private LocalKeyVault(LoopbackServer server) => _server = server;

    public Uri VaultUri => _server.BaseUri;

    /// <summary>The vault's certificate as PEM, for a child process that must trust it (<c>SSL_CERT_FILE</c>).</summary>
    public string CertificatePem => _server.Certificate!.ExportCertificatePem();

    /// <summary>Answer 403 Forbidden (the identity has no role on the vault) instead of the secrets.</summary>
    public bool Forbidden { get; set; }

    /// <summary>Answer every request with this status (e.g. 503, 429) before looking at it, as a failing or throttling vault does.</summary>
    public int? FailWith { get; set; }

    /// <summary>Requests received, answered or not.</summary>
    public int Requests;

    /// <summary>Secret reads answered with a value, by name.</summary>
    public ConcurrentDictionary<string, int> Reads { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Requests that came with a bearer token other than the one the test identity gives for the vault's scope.</summary>
    public int WrongTokens;

    public static async Task<LocalKeyVault> StartAsync()
    {
        LocalKeyVault? vault = null;
        var server = await LoopbackServer.StartAsync(context => vault!.HandleAsync(context), https: true);
        vault = new LocalKeyVault(server);
        return vault;
    }

    public void Set(string name, string value) => _secrets[name] = value;

    public void Remove(string name) => _secrets.TryRemove(name, out _);

    /// <summary>Options for the real <see cref="SecretClient"/>: trust this server's certificate only, accept its loopback host for the vault's challenge.</summary>
    public SecretClientOptions ClientOptions() => new()
    {
        Transport = new HttpClientTransport(_server.TrustingHandler()),
        DisableChallengeResourceVerification = true, // the challenge names vault.azure.net; the host is 127.0.0.1
        Retry = { MaxRetries = 0 },
    };

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref Requests);
        if (FailWith is int status)
        {
            await ErrorAsync(context, status, status == 429 ? "Throttled" : "ServiceUnavailable", "The test vault is failing on purpose.");
            return;
        }

        var request = context.Request;
        var segments = request.Path.Value!.Trim('/').Split('/');
        if (request.Method != "GET" || segments.Length is < 2 or > 3 || segments[0] != "secrets" || !request.Query.ContainsKey("api-version"))
        {
            await ErrorAsync(context, 400, "BadParameter", "This test vault answers GET /secrets/{name}/{version?}?api-version=... only.");
            return;
        }

        string authorization = request.Headers.Authorization.ToString();
        if (authorization != "Bearer " + TestTokenCredential.TokenFor(Scope))
        {
            if (authorization.Length > 0)
            {
                Interlocked.Increment(ref WrongTokens);
            }

            // What a real vault answers without a valid token; the SDK's challenge policy reads the authority and resource from it.
            context.Response.Headers.WWWAuthenticate = $"Bearer authorization=\"https://login.microsoftonline.com/{TenantId}\", resource=\"https://vault.azure.net\"";
            await ErrorAsync(context, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.");
            return;
        }

        if (Forbidden)
        {
            await ErrorAsync(context, 403, "Forbidden", "Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'.", "ForbiddenByRbac");
            return;
        }

        string name = segments[1];
        if (!_secrets.TryGetValue(name, out var value))
        {
            await ErrorAsync(context, 404, "SecretNotFound", $"A secret with (name/id) {name} was not found in this key vault.");
            return;
        }

        Reads.AddOrUpdate(name, 1, (_, n) => n + 1);
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            value,
            id = new Uri(VaultUri, $"secrets/{name}/0123456789abcdef0123456789abcdef").ToString(),
            attributes = new { enabled = true, created = 1_767_225_600, updated = 1_767_225_600, recoveryLevel = "Recoverable+Purgeable" },
        }));
    }

    private static Task ErrorAsync(HttpContext context, int status, string code, string message, string? inner = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { code, message, innererror = inner is null ? null : new { code = inner } } }));
    }
}
