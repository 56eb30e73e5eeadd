namespace Parley.Server.Http;

/// <summary>
/// Client connections kept within the process's open-file limit (RLIMIT_NOFILE). At the limit accept() fails with EMFILE and
/// Kestrel retries it at once: a new client waits in the listen backlog (a hang) and the database pools cannot open a socket
/// (every request fails). With connection limits below it, Kestrel closes a connection over them as soon as it is accepted (the
/// client sees it refused) and <see cref="Reserve"/> descriptors stay for the pools, Redis, files and the runtime.
/// </summary>
public static class DescriptorBudget
{
    /// <summary>Descriptors left for everything but client connections: two full database pools, Redis, logs, the runtime's own.</summary>
    public const long Reserve = 256;

    /// <summary>
    /// Kestrel's MaxConcurrentConnections and MaxConcurrentUpgradedConnections (an upgraded WebSocket leaves the first count for the
    /// second, so together they stay within the limit): a quarter and three quarters of what the reserve leaves. Null: no limit
    /// known, or too low to split.
    /// </summary>
    public static (long Connections, long Upgraded)? Split(long? openFileLimit) =>
        openFileLimit is { } limit && limit > 2 * Reserve ? ((limit - Reserve) / 4, limit - Reserve - (limit - Reserve) / 4) : null;

    /// <summary>The soft RLIMIT_NOFILE from <c>/proc/self/limits</c>; null when unlimited or not on Linux.</summary>
    public static long? OpenFileLimit()
    {
        const string path = "/proc/self/limits";
        if (!File.Exists(path)) return null;
        // "Max open files            1024                 4096                 files"
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var soft = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return long.TryParse(soft, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}
