using System.Net;
using System.Net.Http.Headers;
using BulkDispatch.Core;
using BulkDispatch.Flush.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace BulkDispatch.Flush.Delivery;

/// <summary>What became of one Event API request after the resilience pipeline was done with it.</summary>
internal enum DeliveryStatus
{
    /// <summary>2xx: every visitor in it is accepted.</summary>
    Accepted,

    /// <summary>400 or 413: something in it can never be accepted; split it to find what.</summary>
    Rejected,

    /// <summary>Retries exhausted, circuit open, timeout, connection error or an unexpected status: try again in a later run.</summary>
    Transient,

    /// <summary>Not sent at all (a dry run): the visitors stay in the queue.</summary>
    Withheld,
}

internal readonly record struct DeliveryResult(DeliveryStatus Status, int HttpStatus, string Detail);

/// <summary>
/// Posts merged EventBatch bodies to the Event API through the named <see cref="HttpClient"/> whose
/// resilience pipeline (retry with jittered back-off and Retry-After, circuit breaker, per-attempt
/// timeout) is set up in <see cref="FlushServiceCollectionExtensions"/>.
/// </summary>
internal sealed class OptimizelyClient(IHttpClientFactory httpClientFactory, IOptions<OptimizelyOptions> options, ILogger<OptimizelyClient> logger)
{
    public const string HttpClientName = "BulkDispatch.Optimizely";
    private const int MaxDetailLength = 500;
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public Task<DeliveryResult> PostAsync(string eventUrl, byte[] body, CancellationToken cancellationToken) =>
        PostAsync(eventUrl, new ArraySegment<byte>(body), cancellationToken);

    /// <summary>Posts <paramref name="body"/>; the caller may reuse its array once the returned task has completed.</summary>
    public async Task<DeliveryResult> PostAsync(string eventUrl, ArraySegment<byte> body, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var destination = string.IsNullOrWhiteSpace(o.EndpointOverride) ? eventUrl : o.EndpointOverride;
        using var request = new HttpRequestMessage(HttpMethod.Post, destination);
        request.Content = new ByteArrayContent(body.Array!, body.Offset, body.Count);
        request.Content.Headers.ContentType = Json;
        if (o.Strict)
        {
            request.Headers.Add("X-Optimizely-Strict", "true");
        }

        var http = httpClientFactory.CreateClient(HttpClientName);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            int status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return new DeliveryResult(DeliveryStatus.Accepted, status, "");
            }

            string text = await ReadDetailAsync(response, cancellationToken);
            return response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge
                ? new DeliveryResult(DeliveryStatus.Rejected, status, text)
                : new DeliveryResult(DeliveryStatus.Transient, status, $"HTTP {status} {response.ReasonPhrase}: {text}");
        }
        catch (BrokenCircuitException ex)
        {
            return Transient("the circuit breaker is open after repeated failures", ex);
        }
        catch (TimeoutRejectedException ex)
        {
            return Transient("the request timed out", ex);
        }
        catch (HttpRequestException ex)
        {
            return Transient("the connection failed", ex);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            return Transient("the run's deadline passed", ex);
        }
        catch (OperationCanceledException ex)
        {
            return Transient("the request was cancelled or timed out", ex);
        }
    }

    private DeliveryResult Transient(string what, Exception ex)
    {
        logger.LogDebug(ex, "Event API request failed: {What}", what);
        return new DeliveryResult(DeliveryStatus.Transient, 0, $"{what} ({ex.GetType().Name}: {LogText.Escape(ex.Message)})");
    }

    private static async Task<string> ReadDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (HttpRequestException)
        {
            text = "";
        }

        // The answer may quote the request (queue data) and lands in logs and the dead letter's Detail attribute.
        return LogText.Escape(text.ReplaceLineEndings(" ").Trim(), MaxDetailLength);
    }
}
