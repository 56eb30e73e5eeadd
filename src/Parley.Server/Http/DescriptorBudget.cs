namespace Parley.Server.Http;

/// <summary>
/// Client connections kept within the process's open-file limit (RLIMIT_NOFILE). At the limit accept() fails with EMFILE and
/// Kestrel retries it at once: a new client waits in the listen backlog (a hang) and the database pools cannot open a socket
/// (every request fails). With connection limits below it, Kestrel closes a connection over them as soon as it is accepted (the
/// client sees it refused) and <see cref="Reserve"/> descriptors stay for the pools, Redis, files and the runtime.
/// </summary>
public static class DescriptorBudget
{
    /// <summary>
    /// Descriptors left for everything but client connections: the runtime keeps every loaded assembly's file open (about 260 for
    /// a node that has served each route, measured), two full database pools, Redis, logs. 256 left a node at 1,024 with 250 to
    /// spare, and a flood's rejected connections, accepted before they are closed, took those (ci38: the node died).
    /// </summary>
    public const long Reserve = 512;

    /// <summary>Below this many descriptors for clients no split is useful: no limit is set.</summary>
    public const long MinimumForClients = 128;

    /// <summary>
    /// Kestrel's MaxConcurrentConnections and MaxConcurrentUpgradedConnections (an upgraded WebSocket leaves the first count for the
    /// second, so together they stay within the limit): a quarter and three quarters of what the reserve leaves. Null: no limit
    /// known, or too low to split.
    /// </summary>
    public static (long Connections, long Upgraded)? Split(long? openFileLimit) =>
        openFileLimit is { } limit && limit - Reserve >= MinimumForClients ? ((limit - Reserve) / 4, limit - Reserve - (limit - Reserve) / 4) : null;

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
