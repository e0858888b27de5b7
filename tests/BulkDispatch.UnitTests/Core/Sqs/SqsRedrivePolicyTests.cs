using BulkDispatch.Core.Sqs;

namespace BulkDispatch.UnitTests.Core.Sqs;

/// <summary>The RedrivePolicy queue attribute and SQS queue ARNs.</summary>
public sealed class SqsRedrivePolicyTests
{
    [Theory]
    [InlineData("""{"deadLetterTargetArn":"arn:aws:sqs:us-west-2:123456789012:events-dlq","maxReceiveCount":5}""", 5)]
    [InlineData("""{"deadLetterTargetArn":"arn:aws:sqs:us-west-2:123456789012:events-dlq","maxReceiveCount":"5"}""", 5)]
    [InlineData("""{"maxReceiveCount":"five","deadLetterTargetArn":"arn:aws:sqs:us-west-2:123456789012:events-dlq"}""", null)]
    public void The_target_and_the_receive_count_are_read_as_sqs_writes_them(string json, int? maxReceiveCount)
    {
        var policy = SqsRedrivePolicy.Parse(json)!;

        Assert.Equal("arn:aws:sqs:us-west-2:123456789012:events-dlq", policy.DeadLetterTargetArn);
        Assert.Equal(maxReceiveCount, policy.MaxReceiveCount);
        Assert.Equal(new SqsQueueArn("us-west-2", "123456789012", "events-dlq"), policy.DeadLetterTarget());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void No_policy_is_null(string? json) => Assert.Null(SqsRedrivePolicy.Parse(json));

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"deadLetterTargetArn":42}""")]
    public void A_policy_that_cannot_be_read_has_no_target(string json)
    {
        var policy = SqsRedrivePolicy.Parse(json)!;
        Assert.Null(policy.DeadLetterTargetArn);
        Assert.Null(policy.DeadLetterTarget());
    }

    [Theory]
    [InlineData("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q", "us-gov-west-1", "123456789012", "q")]
    [InlineData("arn:aws:sqs:eu-central-1:000000000000:events-dlq", "eu-central-1", "000000000000", "events-dlq")]
    public void Queue_arns_name_region_account_and_queue(string arn, string region, string account, string name) =>
        Assert.Equal(new SqsQueueArn(region, account, name), SqsQueueArn.TryParse(arn));

    [Theory]
    [InlineData("arn:aws:sns:us-west-2:123456789012:topic")]
    [InlineData("arn:aws:sqs:us-west-2:123456789012")]
    [InlineData("arn:aws:sqs:us-west-2::q")]
    [InlineData("https://sqs.us-west-2.amazonaws.com/123456789012/q")]
    [InlineData(null)]
    public void Anything_else_is_no_queue_arn(string? arn) => Assert.Null(SqsQueueArn.TryParse(arn));
}
