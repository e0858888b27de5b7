using Amazon;
using Amazon.Runtime;
using Amazon.SQS;

namespace BulkDispatch.Core.Sqs;

/// <summary>The one place an SQS client is made from the settings, for the producer and the flush alike.</summary>
internal static class SqsClientFactory
{
    /// <summary>A client for <paramref name="region"/>, or for <paramref name="serviceUrl"/> when set, with the AWS SDK's default credential chain.</summary>
    public static AmazonSQSClient Create(string region, string? serviceUrl) => Create(region, serviceUrl, null);

    /// <summary>As <see cref="Create(string, string?)"/>, signing with <paramref name="credentials"/> (null: the default chain).</summary>
    public static AmazonSQSClient Create(string region, string? serviceUrl, AWSCredentials? credentials)
    {
        var config = new AmazonSQSConfig();
        if (!string.IsNullOrWhiteSpace(serviceUrl))
        {
            config.ServiceURL = serviceUrl;
            config.AuthenticationRegion = region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }

        return credentials is null ? new AmazonSQSClient(config) : new AmazonSQSClient(credentials, config);
    }
}
