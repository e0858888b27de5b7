using Amazon.Runtime;
using Azure;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;
using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.Flush.Credentials;

/// <summary>
/// An AWS access key read from Azure Key Vault: cached, read again after <see cref="KeyVaultOptions.RefreshInterval"/>,
/// and at once after <see cref="Invalidate"/> (AWS refused the key: it was probably rotated).
/// </summary>
/// <remarks>Secret values live only in the <see cref="ImmutableCredentials"/> handed to the AWS SDK; no message here contains one.</remarks>
internal sealed class KeyVaultAwsCredentials(SecretClient secrets, KeyVaultOptions options, TimeProvider time, ILogger<KeyVaultAwsCredentials> logger)
    : AWSCredentials, IRefreshableCredentials, IDisposable
{
    private readonly SemaphoreSlim _readLock = new(1, 1); // one vault read at a time; the others wait for its result
    private volatile Cached? _cached;
    private long _lastGeneration; // written under _readLock only

    public override ImmutableCredentials GetCredentials() => GetCredentialsAsync().GetAwaiter().GetResult();

    public override async Task<ImmutableCredentials> GetCredentialsAsync()
    {
        if (Fresh(_cached) is { } credentials)
        {
            return credentials;
        }

        await _readLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Fresh(_cached) is { } other)
            {
                return other;
            }

            var read = await ReadAsync().ConfigureAwait(false);
            _cached = new Cached(read, time.GetUtcNow() + options.RefreshInterval, ++_lastGeneration);
            return read;
        }
        finally
        {
            _readLock.Release();
        }
    }

    public long Generation => _cached?.Generation ?? 0;

    /// <summary>Forgets the cached key (if it is still the refused one), so the next request reads the vault again.</summary>
    public void Invalidate(long generation)
    {
        var cached = _cached;
        if (cached is not null && (generation == 0 || generation == cached.Generation))
        {
            Interlocked.CompareExchange(ref _cached, null, cached);
        }
    }

    public void Dispose() => _readLock.Dispose();

    public string Describe => $"Key Vault {Vault}";

    /// <summary>The vault for messages and logs (a user name, password or query in the setting is not shown).</summary>
    private string Vault => UrlRedaction.Redact(options.VaultUri);

    private ImmutableCredentials? Fresh(Cached? cached) => cached is not null && time.GetUtcNow() < cached.ReadAgainAt ? cached.Credentials : null;

    private async Task<ImmutableCredentials> ReadAsync()
    {
        string keyId = await ReadSecretAsync(options.AccessKeyIdSecret, "AccessKeyIdSecret").ConfigureAwait(false);
        string secret = await ReadSecretAsync(options.SecretAccessKeySecret, "SecretAccessKeySecret").ConfigureAwait(false);
        string? token = string.IsNullOrWhiteSpace(options.SessionTokenSecret)
            ? null
            : await ReadSecretAsync(options.SessionTokenSecret, "SessionTokenSecret").ConfigureAwait(false);
        logger.LogInformation("Read the AWS access key from Key Vault {VaultUri} (secrets {AccessKeyIdSecret}, {SecretAccessKeySecret}{SessionTokenSecret}); read again in {RefreshInterval}.",
            Vault, options.AccessKeyIdSecret, options.SecretAccessKeySecret, token is null ? "" : ", " + options.SessionTokenSecret, options.RefreshInterval);
        return new ImmutableCredentials(keyId, secret, token);
    }

    private async Task<string> ReadSecretAsync(string name, string setting)
    {
        try
        {
            var value = (await secrets.GetSecretAsync(name).ConfigureAwait(false)).Value.Value;
            return string.IsNullOrWhiteSpace(value)
                ? throw new BulkDispatchConfigurationException($"BulkDispatch__KeyVault__{setting}: the secret '{name}' in {Vault} is empty. Store the AWS value in it.")
                : value.Trim();
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            throw new BulkDispatchConfigurationException(
                $"BulkDispatch__KeyVault__{setting}: the secret '{name}' was not found in {Vault}. Create it there, or set BulkDispatch__KeyVault__{setting} to the name of the secret that holds the value.");
        }
        catch (RequestFailedException ex) when (ex.Status is 401 or 403)
        {
            throw new BulkDispatchConfigurationException(
                $"BulkDispatch__KeyVault__{setting}: {Vault} (BulkDispatch__KeyVault__VaultUri) refused to read the secret '{name}' ({ex.Status} {ex.ErrorCode}). " +
                "The app's identity needs the 'Key Vault Secrets User' role on the vault (az role assignment create --role \"Key Vault Secrets User\" --assignee <the identity's principal id> --scope <the vault's resource id>), or a 'Get' secret permission if the vault uses access policies.");
        }
        catch (AuthenticationFailedException ex)
        {
            throw new BulkDispatchConfigurationException(
                $"BulkDispatch__KeyVault__VaultUri: no Azure identity could get a token for {Vault}. Locally, run 'az login'; in Azure, turn on the app's managed identity " +
                $"(for a user-assigned one also set AZURE_CLIENT_ID). ({ex.GetType().Name}: {FirstLine(ex.Message)})");
        }
        catch (Exception ex) when (Unreachable(ex) is { } what)
        {
            // Not a configuration error: the vault is unreachable, busy or failing (after the Azure SDK's own retries).
            // Transient like any outage: this call fails, the messages stay queued, the next run tries again.
            throw new KeyVaultUnavailableException(
                $"BulkDispatch__KeyVault__VaultUri: Key Vault {Vault} could not be reached to read the secret '{name}' ({what}); the AWS credentials could not be read. The next run tries again.", ex);
        }
    }

    /// <summary>What went wrong when <paramref name="ex"/> means the vault could not be reached or failed; null for anything else.</summary>
    private static string? Unreachable(Exception ex) => ex switch
    {
        // A 5xx, 429 or other status left after the Azure SDK's retries; status 0 means no answer at all.
        RequestFailedException { Status: > 0 } failed => $"HTTP {failed.Status}{(string.IsNullOrEmpty(failed.ErrorCode) ? "" : " " + failed.ErrorCode)}",
        RequestFailedException failed => "no answer: " + FirstLine(Innermost(failed).Message),
        // The Azure SDK's retry policy gives up on connection errors with "Retry failed after N tries".
        AggregateException aggregate when aggregate.Flatten().InnerExceptions.All(e => Unreachable(e) is not null) =>
            Unreachable(aggregate.Flatten().InnerExceptions[^1]) + $" (after {aggregate.Flatten().InnerExceptions.Count} tries)",
        HttpRequestException or IOException or System.Net.Sockets.SocketException => "no answer: " + FirstLine(Innermost(ex).Message),
        OperationCanceledException => "no answer within the network timeout",
        _ => null,
    };

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    private sealed record Cached(ImmutableCredentials Credentials, DateTimeOffset ReadAgainAt, long Generation);
}

/// <summary>Key Vault could not be reached, or answered with a server error or throttling: transient, unlike a configuration error.</summary>
internal sealed class KeyVaultUnavailableException(string message, Exception innerException) : IOException(message, innerException);
