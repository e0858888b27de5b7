using System.Globalization;
using System.Text.Json;

namespace BulkDispatch.Core.Sqs;

/// <summary>A queue's redrive policy: where SQS moves a message after <see cref="MaxReceiveCount"/> receives.</summary>
/// <param name="DeadLetterTargetArn">The dead-letter queue's ARN, when the policy names one.</param>
/// <param name="MaxReceiveCount">Receives before SQS moves a message, when the policy says.</param>
public sealed record SqsRedrivePolicy(string? DeadLetterTargetArn, int? MaxReceiveCount)
{
    /// <summary>
    /// Reads the <c>RedrivePolicy</c> queue attribute (JSON; <c>maxReceiveCount</c> may be a number or a string).
    /// Null when there is none; a policy with null parts when it cannot be read.
    /// </summary>
    public static SqsRedrivePolicy? Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(json!);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new SqsRedrivePolicy(null, null);
            }

            string? target = root.TryGetProperty("deadLetterTargetArn", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            int? max = null;
            if (root.TryGetProperty("maxReceiveCount", out var m))
            {
                if (m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out int n))
                {
                    max = n;
                }
                else if (m.ValueKind == JsonValueKind.String && int.TryParse(m.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s))
                {
                    max = s;
                }
            }

            return new SqsRedrivePolicy(string.IsNullOrWhiteSpace(target) ? null : target, max);
        }
        catch (JsonException)
        {
            return new SqsRedrivePolicy(null, null);
        }
    }

    /// <summary>The dead-letter queue's name and account, read from <see cref="DeadLetterTargetArn"/>; null when it is no SQS ARN.</summary>
    public SqsQueueArn? DeadLetterTarget() => SqsQueueArn.TryParse(DeadLetterTargetArn);
}

/// <summary>An SQS queue ARN: <c>arn:PARTITION:sqs:REGION:ACCOUNT:NAME</c>.</summary>
/// <param name="Region">The queue's region.</param>
/// <param name="Account">The owning AWS account.</param>
/// <param name="Name">The queue name.</param>
public sealed record SqsQueueArn(string Region, string Account, string Name)
{
    /// <summary>The parts of <paramref name="arn"/>, or null when it is not an SQS queue ARN.</summary>
    public static SqsQueueArn? TryParse(string? arn)
    {
        var parts = arn?.Split(':');
        return parts is { Length: 6 } && parts[0] == "arn" && parts[2] == "sqs" && parts[4].Length > 0 && parts[5].Length > 0
            ? new SqsQueueArn(parts[3], parts[4], parts[5])
            : null;
    }
}
