using System.Security.Cryptography;
using System.Text;

namespace Parley.Kit.Stack.Internal;

/// <summary>
/// Where a stack keeps its state file and its data. The data goes under the root, except when the postgres user
/// (we are root) cannot traverse to it, or when the root is so deep that PostgreSQL's Unix socket paths would pass
/// the 107-byte limit: then a throwaway stack's data goes to /tmp/parley-stack-&lt;hash of root&gt; and a durable
/// one's to /var/lib/parley (root) or ~/.local/state/parley, where a reboot does not clear it.
/// </summary>
/// <param name="KeepData">Durable: a stop removes stack.json only, the data stays for the next start.</param>
internal sealed record StackLayout(string RootDirectory, bool DeleteRootOnStop, string DataDirectory, bool KeepData)
{
    // "<data>/pgbouncer/.s.PGSQL.65535" is the longest socket path: data + 26 bytes, at most 107.
    private const int MaxDataDirectoryLength = 80;

    public string StateFile => StateFileIn(RootDirectory);

    /// <summary>Ports the components last ran on, so a durable restart gets them back while they are free.</summary>
    public string PortsFile => Path.Combine(DataDirectory, "ports.json");

    /// <summary>
    /// Which data directory holds the primary (<c>primary</c> or <c>replica</c>), written by a failover; absent: <c>primary</c>.
    /// Beside the data directories, so a durable stack starts with the roles its last failover left.
    /// </summary>
    public string PrimaryRoleFile => Path.Combine(DataDirectory, "primary-role");

    /// <summary>Completed WAL segments of every timeline, copied by archive_command (<see cref="StackOptions.WalArchive"/>).</summary>
    public string WalArchiveDirectory => Path.Combine(DataDirectory, "wal-archive");

    /// <summary>Base backups for point-in-time recovery, one directory each (pg_basebackup, plain format).</summary>
    public string BaseBackupsDirectory => Path.Combine(DataDirectory, "base-backups");

    public static string StateFileIn(string rootDirectory) => Path.Combine(rootDirectory, "stack.json");

    public static StackLayout Create(string? rootDirectory, bool runAsPostgres, bool durable)
    {
        var root = rootDirectory is null ? Directory.CreateTempSubdirectory("parley-stack-").FullName : Path.GetFullPath(rootDirectory);
        Directory.CreateDirectory(root);
        return new StackLayout(root, rootDirectory is null, durable ? DurableData(root, runAsPostgres) : ThrowawayData(root, runAsPostgres), durable);
    }

    /// <summary>Shell commands that remove what the stack leaves behind, for the watchdog.</summary>
    public IEnumerable<string> ShellCleanup() =>
        DeleteRootOnStop ? [$"rm -rf -- {Shell.Quote(DataDirectory)} {Shell.Quote(RootDirectory)}"]
        : KeepData ? [$"rm -f -- {Shell.Quote(StateFile)}"]
        : [$"rm -rf -- {Shell.Quote(DataDirectory)}", $"rm -f -- {Shell.Quote(StateFile)}"];

    /// <summary>Removes what the stack leaves behind: the data unless it is kept, and the root if we created it, else stack.json.</summary>
    public void Delete()
    {
        if (!KeepData)
            DeleteDirectory(DataDirectory);
        if (DeleteRootOnStop)
            DeleteDirectory(RootDirectory);
        else
            File.Delete(StateFile);
    }

    /// <summary>Deletes the data, kept or not.</summary>
    public void DeleteData() => DeleteDirectory(DataDirectory);

    private static string ThrowawayData(string root, bool runAsPostgres)
    {
        var data = Path.Combine(root, "data");
        return runAsPostgres || data.Length > MaxDataDirectoryLength ? Path.Combine("/tmp", "parley-stack-" + Hash(root)) : data;
    }

    // The same root must find the same data on every start: an existing directory wins over the rule that chose it.
    private static string DurableData(string root, bool runAsPostgres)
    {
        var local = Path.Combine(root, "data");
        var elsewhere = Path.Combine(
            runAsPostgres ? "/var/lib/parley" : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "parley"),
            "stack-" + Hash(root));
        if (Directory.Exists(local))
            return local;
        if (Directory.Exists(elsewhere))
            return elsewhere;
        return local.Length <= MaxDataDirectoryLength && (!runAsPostgres || OthersCanTraverse(root)) ? local : elsewhere;
    }

    // The postgres user reaches <root>/data only if every directory on the way lets others search it (o+x).
    private static bool OthersCanTraverse(string path)
    {
        if (OperatingSystem.IsWindows()) // The stack runs on Linux only; this tells the platform analyzer.
            return false;
        for (var dir = new DirectoryInfo(path); dir is not null; dir = dir.Parent)
        {
            if (!dir.UnixFileMode.HasFlag(UnixFileMode.OtherExecute))
                return false;
        }
        return true;
    }

    private static string Hash(string root) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(root)))[..16];

    // Another process deleting the same tree (two `parley reset`s) makes entries vanish under the walk: that is the same
    // outcome, so the walk is retried (a bounded number of times) until the directory is gone.
    private static void DeleteDirectory(string path)
    {
        for (var attempt = 1; Directory.Exists(path); attempt++)
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (DirectoryNotFoundException) when (attempt < 20)
            {
            }
        }
    }
}
