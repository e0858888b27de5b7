using System.Collections.Concurrent;
using System.Globalization;
using System.Security;
using Microsoft.AspNetCore.Http;

namespace BulkDispatch.IntegrationTests.Credentials;

/// <summary>
/// STS <c>AssumeRoleWithWebIdentity</c> on loopback, as the real <c>AmazonSecurityTokenServiceClient</c> calls it
/// (query protocol: a form POST with Action and Version; an XML answer). Each call hands out new numbered credentials.
/// </summary>
internal sealed class LocalSts : IAsyncDisposable
{
    private readonly LoopbackServer _server;
    private int _issued;

    private LocalSts(LoopbackServer server) => _server = server;

    public Uri ServiceUrl => _server.BaseUri;

    /// <summary>How long the credentials handed out are valid.</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Every AssumeRoleWithWebIdentity request's form fields.</summary>
    public ConcurrentQueue<IReadOnlyDictionary<string, string>> Calls { get; } = new();

    /// <summary>The access key id the n-th call (1-based) hands out.</summary>
    public static string AccessKeyId(int n) => string.Create(CultureInfo.InvariantCulture, $"ASIATEMPORARY{n:D7}");

    public static async Task<LocalSts> StartAsync()
    {
        LocalSts? sts = null;
        var server = await LoopbackServer.StartAsync(context => sts!.HandleAsync(context), https: false);
        sts = new LocalSts(server);
        return sts;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync() : null;
        var fields = form?.ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal) ?? [];
        context.Response.ContentType = "text/xml";
        if (context.Request.Method != "POST" || fields.GetValueOrDefault("Action") != "AssumeRoleWithWebIdentity" || fields.GetValueOrDefault("Version") != "2011-06-15")
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>Only AssumeRoleWithWebIdentity here.</Message></Error><RequestId>1</RequestId></ErrorResponse>""");
            return;
        }

        Calls.Enqueue(fields);
        int n = Interlocked.Increment(ref _issued);
        string expiration = DateTime.UtcNow.Add(Lifetime).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        string role = SecurityElement.Escape(fields.GetValueOrDefault("RoleArn") ?? "");
        await context.Response.WriteAsync($"""
            <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <AssumeRoleWithWebIdentityResult>
                <SubjectFromWebIdentityToken>00000000-0000-0000-0000-000000000001</SubjectFromWebIdentityToken>
                <Audience>test</Audience>
                <AssumedRoleUser><Arn>{role}/session</Arn><AssumedRoleId>AROATEST:session</AssumedRoleId></AssumedRoleUser>
                <Credentials>
                  <SessionToken>session-token-{n}</SessionToken>
                  <SecretAccessKey>temporary-secret-{n}</SecretAccessKey>
                  <Expiration>{expiration}</Expiration>
                  <AccessKeyId>{AccessKeyId(n)}</AccessKeyId>
                </Credentials>
                <Provider>https://sts.windows.net/{LocalKeyVault.TenantId}/</Provider>
              </AssumeRoleWithWebIdentityResult>
              <ResponseMetadata><RequestId>{Guid.NewGuid()}</RequestId></ResponseMetadata>
            </AssumeRoleWithWebIdentityResponse>
            """);
    }
}
