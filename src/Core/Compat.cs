using System.Text;

namespace BulkDispatch.Core;

/// <summary>The few calls that differ between netstandard2.0 (producer hosts on .NET Framework) and net10.0.</summary>
internal static class Compat
{
    public static string Utf8String(ReadOnlySpan<byte> bytes) =>
#if NETSTANDARD2_0
        Encoding.UTF8.GetString(bytes.ToArray());
#else
        Encoding.UTF8.GetString(bytes);
#endif

    public static T NotNull<T>(T? value, string name)
        where T : class => value ?? throw new ArgumentNullException(name);

#if NETSTANDARD2_0
    public static void Deconstruct<TKey, TValue>(this KeyValuePair<TKey, TValue> pair, out TKey key, out TValue value)
    {
        key = pair.Key;
        value = pair.Value;
    }
#endif
}
