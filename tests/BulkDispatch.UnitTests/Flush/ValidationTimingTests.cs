using BulkDispatch.Flush;
using BulkDispatch.Flush.Configuration;
using BulkDispatch.Flush.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BulkDispatch.UnitTests.Flush;

/// <summary>
/// A host chooses when the settings are validated: when each run starts (the default, which the Azure Functions host
/// needs: a worker that throws at start is restarted in a loop) or while the host starts.
/// </summary>
public sealed class ValidationTimingTests
{
    private static readonly Dictionary<string, string?> BadSettings = new()
    {
        ["BulkDispatch:Flush:MaxRequestBytes"] = "abc",
        ["BulkDispatch:Flush:ReceiveConcurrency"] = "0",
        ["BulkDispatch:Sqs:QueueUrl"] = "not a url",
        ["BulkDispatch:KeyVault:RefreshInterval"] = "soon",
    };

    private static readonly string[] Named =
    [
        "BulkDispatch__Flush__MaxRequestBytes: 'abc' is not a whole number",
        "BulkDispatch__Flush__ReceiveConcurrency: 0 is outside 1 to 64",
        "BulkDispatch__Sqs__QueueUrl: 'not a url' is not an http(s) URL",
        "BulkDispatch__KeyVault__RefreshInterval: 'soon' is not a time span",
    ];

    private static IHost Host(Action<FlushRegistrationOptions>? configure)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        builder.Configuration.AddInMemoryCollection(BadSettings);
        builder.Services.AddBulkDispatchFlush(builder.Configuration, configure);
        return builder.Build();
    }

    [Fact]
    public async Task By_default_the_host_starts_and_each_run_fails_naming_every_bad_setting()
    {
        using var host = Host(null);

        await host.StartAsync(); // no exception: a Functions worker stays up
        var error = await Assert.ThrowsAsync<BulkDispatchConfigurationException>(() => host.Services.GetRequiredService<FlushEngine>().RunAsync());
        await host.StopAsync();

        foreach (var line in Named)
        {
            Assert.Contains(error.Errors, e => e.StartsWith(line, StringComparison.Ordinal));
        }

        Assert.Equal(Named.Length, error.Errors.Count);
        Assert.All(error.Errors, e => Assert.Contains("Example: ", e, StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_validate_on_start_the_host_does_not_start_and_names_every_bad_setting()
    {
        using var host = Host(o => o.ValidateOnStart = true);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        var failures = (error as AggregateException)?.InnerExceptions.OfType<OptionsValidationException>().SelectMany(e => e.Failures).ToList()
            ?? Assert.IsType<OptionsValidationException>(error).Failures.ToList();
        foreach (var line in Named)
        {
            Assert.Contains(failures, e => e.StartsWith(line, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Good_settings_start_either_way()
    {
        foreach (bool onStart in new[] { false, true })
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddBulkDispatchFlush(builder.Configuration, o => o.ValidateOnStart = onStart);
            using var host = builder.Build();

            await host.StartAsync();
            host.Services.GetRequiredService<SettingsValidation>().ThrowIfInvalid();
            await host.StopAsync();
        }
    }
}
