using System.Security.Cryptography;
using System.Text;

namespace Parley.Kit.Stack.Internal;

/// <summary>
/// Where a stack keeps its state file and its data. The data goes under the root, except when we are root
/// (the postgres user cannot traverse /root or a 0700 temp directory) or when the root is so deep that
/// PostgreSQL's Unix socket paths would pass the 107-byte limit: then it goes to /tmp/parley-stack-&lt;hash of root&gt;.
/// </summary>
internal sealed record StackLayout(string RootDirectory, bool DeleteRootOnStop, string DataDirectory)
{
    // "<data>/pgbouncer/.s.PGSQL.65535" is the longest socket path: data + 26 bytes, at most 107.
    private const int MaxDataDirectoryLength = 80;

    public string StateFile => StateFileIn(RootDirectory);

    public static string StateFileIn(string rootDirectory) => Path.Combine(rootDirectory, "stack.json");

    public static StackLayout Create(string? rootDirectory, bool runAsPostgres)
    {
        var root = rootDirectory is null ? Directory.CreateTempSubdirectory("parley-stack-").FullName : Path.GetFullPath(rootDirectory);
        Directory.CreateDirectory(root);
        var data = Path.Combine(root, "data");
        if (runAsPostgres || data.Length > MaxDataDirectoryLength)
            data = Path.Combine("/tmp", "parley-stack-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(root)))[..16]);
        return new StackLayout(root, rootDirectory is null, data);
    }

    /// <summary>Shell commands that remove what the stack leaves behind, for the watchdog.</summary>
    public IEnumerable<string> ShellCleanup() =>
        DeleteRootOnStop
            ? [$"rm -rf -- {Shell.Quote(DataDirectory)} {Shell.Quote(RootDirectory)}"]
            : [$"rm -rf -- {Shell.Quote(DataDirectory)}", $"rm -f -- {Shell.Quote(StateFile)}"];

    /// <summary>Removes what the stack leaves behind: the data, and the root if we created it, else stack.json.</summary>
    public void Delete()
    {
        DeleteDirectory(DataDirectory);
        if (DeleteRootOnStop)
            DeleteDirectory(RootDirectory);
        else
            File.Delete(StateFile);
    }

    private static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
    }
}
