using System.Runtime.InteropServices;

namespace Parley.Kit.Load.Engine;

/// <summary>Raises this process's open-file limit (RLIMIT_NOFILE) so one load generator can hold 10,000 sockets.</summary>
public static partial class FileLimit
{
    private const int RlimitNoFile = 7; // Linux

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);

    /// <summary>
    /// Raises the soft limit to at least <paramref name="wanted"/> (up to the hard limit) and returns the limit in
    /// effect, or null where the call is not available (not Linux).
    /// </summary>
    public static ulong? Raise(ulong wanted)
    {
        if (!OperatingSystem.IsLinux()) return null;
        if (getrlimit(RlimitNoFile, out var limit) != 0) return null;
        if (limit.Current >= wanted) return limit.Current;
        var raised = limit with { Current = Math.Min(wanted, limit.Maximum) };
        return setrlimit(RlimitNoFile, raised) == 0 ? raised.Current : limit.Current;
    }
}
