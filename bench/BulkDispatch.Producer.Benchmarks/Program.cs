using System.Diagnostics;
using System.Reflection;
using BenchmarkDotNet.Running;
using BulkDispatch.Producer.Benchmarks;

// Usage (Release only):
//   dotnet run -c Release --project bench/BulkDispatch.Producer.Benchmarks -- bdn [BenchmarkDotNet options, e.g. --filter *]
//   dotnet run -c Release --project bench/BulkDispatch.Producer.Benchmarks -- harness [latencyCalls=200000] [events=20000] [baselineEvents=2000] [rounds=3]
//   dotnet run -c Release --project bench/BulkDispatch.Producer.Benchmarks -- wire [events=20000] [rounds=3]
if (typeof(Harness).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true)
{
    Console.Error.WriteLine("Build and run the producer benchmarks in Release: dotnet run -c Release --project bench/BulkDispatch.Producer.Benchmarks -- bdn|harness|wire");
    return 2;
}

string mode = args.Length > 0 ? args[0] : string.Empty;
string[] rest = args.Length > 0 ? args[1..] : [];
switch (mode)
{
    case "bdn":
        var summary = BenchmarkRunner.Run<TryPublishBenchmarks>(args: rest);
        return summary.HasCriticalValidationErrors || summary.Reports.Any(r => !r.Success) ? 1 : 0;
    case "harness":
        return await Harness.RunAsync(rest);
    case "wire":
        return await WireFormatRun.RunAsync(rest);
    default:
        Console.Error.WriteLine("Usage: dotnet run -c Release --project bench/BulkDispatch.Producer.Benchmarks -- bdn [BenchmarkDotNet options] | harness [latencyCalls] [events] [baselineEvents] [rounds] | wire [events] [rounds]");
        return 2;
}
