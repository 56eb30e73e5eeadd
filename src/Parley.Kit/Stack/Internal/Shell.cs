namespace Parley.Kit.Stack.Internal;

internal static class Shell
{
    /// <summary>Quotes <paramref name="value"/> as one POSIX shell word.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
