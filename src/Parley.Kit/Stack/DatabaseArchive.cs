using System.Globalization;
using Npgsql;
using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Stack;

/// <summary>
/// Saves and brings back one database with pg_dump / pg_restore in custom format (<c>-Fc</c>), using the PostgreSQL
/// client programs the stack runs with. For the local stack's trust auth: a password in the connection string is not passed on.
/// </summary>
public static class DatabaseArchive
{
    private static readonly StackOptions PostgresOnly = new() { WithReplica = false, WithPgBouncer = false, WithRedis = false };

    /// <summary>
    /// Dumps the database of <paramref name="connectionString"/> to <paramref name="file"/> (written beside it first and
    /// renamed when complete, so the name never holds half a backup) and returns the file's size in bytes.
    /// Throws <see cref="InvalidOperationException"/> with pg_dump's output when it fails.
    /// </summary>
    public static async Task<long> SaveAsync(string connectionString, string file, TimeSpan timeout, CancellationToken ct = default)
    {
        var binaries = StackBinaries.Locate(PostgresOnly, runAsPostgres: false);
        var path = Path.GetFullPath(file);
        var partial = path + ".partial";
        try
        {
            await ProcessRunner.RunCheckedAsync(
                binaries.PgDump, [.. ConnectionArgs(connectionString), "--format=custom", "--file", partial], "/", timeout, ct).ConfigureAwait(false);
            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
        return new FileInfo(path).Length;
    }

    /// <summary>
    /// Replaces the content of the database of <paramref name="connectionString"/> with the archive's, in one transaction
    /// (<c>pg_restore --clean --if-exists --single-transaction --exit-on-error</c>: on any error nothing changes), and
    /// returns how many archive entries (tables, indexes, data, ...) it holds. Objects the archive does not know are left.
    /// Throws <see cref="InvalidDataException"/> when the file is not a custom-format archive,
    /// <see cref="InvalidOperationException"/> with pg_restore's output when the restore fails.
    /// </summary>
    public static async Task<int> RestoreAsync(string connectionString, string file, TimeSpan timeout, CancellationToken ct = default)
    {
        var binaries = StackBinaries.Locate(PostgresOnly, runAsPostgres: false);
        var path = Path.GetFullPath(file);
        var list = await ProcessRunner.RunAsync(binaries.PgRestore, ["--list", path], "/", timeout, ct).ConfigureAwait(false);
        if (list.ExitCode != 0)
            throw new InvalidDataException($"{path} is not a pg_dump custom-format archive: {list.Output.Trim()}");
        await ProcessRunner.RunCheckedAsync(
            binaries.PgRestore,
            [.. ConnectionArgs(connectionString), "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-owner", path],
            "/",
            timeout,
            ct).ConfigureAwait(false);
        return list.Output.Split('\n').Count(line => line.Length > 0 && !line.StartsWith(';'));
    }

    private static string[] ConnectionArgs(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return
        [
            "--host", builder.Host ?? "127.0.0.1", "--port", builder.Port.ToString(CultureInfo.InvariantCulture),
            "--username", builder.Username ?? PostgresServer.User, "--dbname", builder.Database ?? PostgresServer.User, "--no-password",
        ];
    }
}
