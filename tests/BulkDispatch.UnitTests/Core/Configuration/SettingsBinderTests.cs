using BulkDispatch.Core.Configuration;
using BulkDispatch.Core.Sqs;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Producer;
using Microsoft.Extensions.Configuration;

namespace BulkDispatch.UnitTests.Core.Configuration;

/// <summary>Each raw setting is checked against its property's type before it is bound; what cannot be read is named, not thrown.</summary>
public sealed class SettingsBinderTests
{
    private static IConfiguration Settings(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Readable_values_are_bound_with_the_binders_conversions()
    {
        var options = new FlushOptions();
        var settings = Settings(("BulkDispatch:Flush:MaxRequestBytes", " 60000 "), ("BulkDispatch:Flush:MaxDuration", "00:01:30"), ("BulkDispatch:Flush:BatchLinger", "1.00:00:00"));

        SettingsBinder.Bind(settings.GetSection(FlushOptions.Section), options);

        Assert.Equal((60000, TimeSpan.FromSeconds(90), TimeSpan.FromDays(1)), (options.MaxRequestBytes, options.MaxDuration, options.BatchLinger));
    }

    [Theory]
    [InlineData("MaxRequestBytes", "abc", "BulkDispatch__Flush__MaxRequestBytes: 'abc' is not a whole number (or is too large). Example: 3000000.")]
    [InlineData("MaxRequestBytes", "3,000,000", "BulkDispatch__Flush__MaxRequestBytes: '3,000,000' is not a whole number (or is too large). Example: 3000000.")]
    [InlineData("MaxBufferedBytes", "99999999999999999999", "BulkDispatch__Flush__MaxBufferedBytes: '99999999999999999999' is not a whole number (or is too large). Example: 33554432.")]
    [InlineData("MaxDuration", "four minutes", "BulkDispatch__Flush__MaxDuration: 'four minutes' is not a time span (hh:mm:ss). Example: 00:04:00.")]
    public void A_value_that_cannot_be_read_is_left_out_and_named_with_an_example(string property, string value, string message)
    {
        var settings = Settings(("BulkDispatch:Flush:" + property, value));
        var options = new FlushOptions();

        SettingsBinder.Bind(settings.GetSection(FlushOptions.Section), options);

        Assert.Equivalent(new FlushOptions(), options); // the default stays
        Assert.Equal(message, Assert.Single(new FlushOptionsValidator(settings).Errors(options)));
    }

    [Fact]
    public void Booleans_and_enums_name_their_choices_and_numbers_are_no_enum_names()
    {
        var settings = Settings(("BulkDispatch:Optimizely:Strict", "yes"), ("BulkDispatch:Producer:OverflowPolicy", "5"));
        var producer = new ProducerOptions();
        SettingsBinder.Bind(settings.GetSection(ProducerOptions.Section), producer);

        Assert.Equal(
            "BulkDispatch__Optimizely__Strict: 'yes' is not true or false. Example: true.",
            Assert.Single(new OptimizelyOptionsValidator(settings).Errors(new OptimizelyOptions())));
        Assert.Equal(OverflowPolicy.DropNewest, producer.OverflowPolicy);
        Assert.Equal(
            "BulkDispatch__Producer__OverflowPolicy: '5' is not one of DropNewest, Block. Example: Block.",
            Assert.Single(new ProducerOptionsValidator(settings).Errors(producer)));
    }

    [Fact]
    public void An_empty_value_means_the_default_and_strings_are_taken_as_they_are()
    {
        var settings = Settings(("BulkDispatch:Flush:MaxMessagesPerRun", ""), ("BulkDispatch:Sqs:QueueName", " my-queue "));
        var flush = new FlushOptions { MaxMessagesPerRun = 7 };
        var sqs = new SqsOptions();

        SettingsBinder.Bind(settings.GetSection(FlushOptions.Section), flush);
        SettingsBinder.Bind(settings.GetSection(SqsOptions.Section), sqs);

        Assert.Equal(7, flush.MaxMessagesPerRun);
        Assert.Equal(" my-queue ", sqs.QueueName);
        Assert.Empty(new FlushOptionsValidator(settings).Errors(flush));
    }

    [Fact]
    public void An_unresolved_key_vault_reference_is_named_once_and_not_bound()
    {
        const string reference = "@Microsoft.KeyVault(SecretUri=https://corp.vault.azure.net/secrets/queue-url/)";
        var settings = Settings(("BulkDispatch:Sqs:QueueUrl", reference), ("BulkDispatch:Flush:MaxRequestBytes", reference));
        var sqs = new SqsOptions();
        var flush = new FlushOptions();
        SettingsBinder.Bind(settings.GetSection(SqsOptions.Section), sqs);
        SettingsBinder.Bind(settings.GetSection(FlushOptions.Section), flush);

        var errors = new SqsOptionsValidator(settings).Errors(sqs).Concat(new FlushOptionsValidator(settings).Errors(flush)).ToList();

        Assert.Null(sqs.QueueUrl);
        Assert.Equal(2, errors.Count);
        Assert.StartsWith("BulkDispatch__Sqs__QueueUrl: the Key Vault reference did not resolve", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("BulkDispatch__Flush__MaxRequestBytes: the Key Vault reference did not resolve", errors[1], StringComparison.Ordinal);
        Assert.DoesNotContain(errors, e => e.Contains("corp.vault", StringComparison.Ordinal));
    }
}
