using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Polly;

namespace BulkDispatch.Flush.Credentials;

/// <summary>
/// Runs every asynchronous call of an AWS client interface (e.g. <c>IAmazonSQS</c>) through a resilience pipeline,
/// so the flush and the CLI's <c>stats</c>/<c>redrive</c> get the auth-error retry without touching each call site.
/// </summary>
#pragma warning disable CA1852 // DispatchProxy derives from this type at run time
internal class AuthRetryingProxy<T> : DispatchProxy
#pragma warning restore CA1852
    where T : class
{
    private static readonly MethodInfo RunGeneric = typeof(AuthRetryingProxy<T>).GetMethod(nameof(RunAsync), BindingFlags.NonPublic | BindingFlags.Instance)!;
    private static readonly ConcurrentDictionary<Type, MethodInfo> RunByResult = new();

    private T _inner = null!;
    private ResiliencePipeline _pipeline = null!;
    private IInvalidatableCredentials _credentials = null!;

    public static T Create(T inner, ResiliencePipeline pipeline, IInvalidatableCredentials credentials)
    {
        var proxy = DispatchProxy.Create<T, AuthRetryingProxy<T>>();
        var self = (AuthRetryingProxy<T>)(object)proxy;
        self._inner = inner;
        self._pipeline = pipeline;
        self._credentials = credentials;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        var returns = targetMethod.ReturnType;
        if (returns.IsGenericType && returns.GetGenericTypeDefinition() == typeof(Task<>))
        {
            var run = RunByResult.GetOrAdd(returns.GetGenericArguments()[0], t => RunGeneric.MakeGenericMethod(t));
            return run.Invoke(this, [targetMethod, args]);
        }

        return Call(targetMethod, args); // properties, Dispose, synchronous helpers: passed through
    }

    private async Task<TResult> RunAsync<TResult>(MethodInfo method, object?[]? args)
    {
        var cancellationToken = args?.OfType<CancellationToken>().LastOrDefault() ?? CancellationToken.None;
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            return await _pipeline.ExecuteAsync(
                static async (context, state) =>
                {
                    // Which credentials this attempt is signed with, so a refusal invalidates those and not newer ones.
                    context.Properties.Set(AuthErrorRetry.GenerationKey, state.Self._credentials.Generation);
                    return await ((Task<TResult>)state.Self.Call(state.Method, state.Args)!).ConfigureAwait(false);
                },
                context,
                (Self: this, Method: method, Args: args)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private object? Call(MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(_inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }
}
