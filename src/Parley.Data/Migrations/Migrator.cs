using System.Reflection;
using System.Text.RegularExpressions;
using Npgsql;

namespace Parley.Data.Migrations;

/// <summary>One embedded <c>NNNN_name.sql</c> script.</summary>
public sealed record Migration(int Version, string Name, string Sql);

/// <summary>The schema is newer than this build, or a migration failed (rolled back: the version is unchanged).</summary>
public sealed class MigrationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Outcome of a migration run.</summary>
public sealed record MigrationResult(int FromVersion, int ToVersion, IReadOnlyList<Migration> Applied);

/// <summary>
/// Applies the numbered, embedded SQL migrations in order: gap-free, each in its own transaction,
/// serialised across processes by an advisory lock, and refusing to run against a newer schema.
/// </summary>
public static partial class Migrator
{
    // Arbitrary but fixed: every Parley process takes the same lock.
    internal const long AdvisoryLockKey = 0x5041524C4559; // "PARLEY"

    [GeneratedRegex(@"Migrations\.(\d{4})_([a-z0-9_]+)\.sql$")]
    private static partial Regex ResourceName();

    public static IReadOnlyList<Migration> Known { get; } = Load();

    public static int LatestVersion => Known[^1].Version;

    private static List<Migration> Load()
    {
        var assembly = typeof(Migrator).Assembly;
        var list = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = ResourceName().Match(resource);
            if (!match.Success) continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add(new Migration(int.Parse(match.Groups[1].Value), match.Groups[2].Value, reader.ReadToEnd()));
        }
        list.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Version != i + 1)
                throw new InvalidOperationException($"Migrations must be numbered 1..n without gaps; found {list[i].Version} at position {i + 1}.");
        }
        return list;
    }

    public static async Task<int> CurrentVersionAsync(NpgsqlDataSource dataSource, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await CurrentVersionAsync(conn, ct);
    }

    private static async Task<int> CurrentVersionAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT coalesce(max(version), 0) FROM schema_version", conn);
        try
        {
            return Convert.ToInt32(await cmd.ExecuteScalarAsync(ct));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0;
        }
    }

    /// <summary>The table of applied versions; the doctor builds it in its scratch schema too.</summary>
    internal const string VersionTableSql = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())
        """;

    public static Task<MigrationResult> MigrateAsync(NpgsqlDataSource dataSource, IProgress<string>? progress = null, CancellationToken ct = default) =>
        MigrateAsync(dataSource, Known, progress, ct);

    /// <summary>Applies <paramref name="migrations"/> (the embedded ones, or a test's list) beyond the current version.</summary>
    /// <exception cref="MigrationException">The schema is newer than the list, or a migration failed (and was rolled back).</exception>
    internal static async Task<MigrationResult> MigrateAsync(NpgsqlDataSource dataSource, IReadOnlyList<Migration> migrations,
        IProgress<string>? progress, CancellationToken ct)
    {
        var latest = migrations[^1].Version;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        // The lock comes first: two nodes creating schema_version at once would collide in the catalog.
        await Execute(conn, $"SELECT pg_advisory_lock({AdvisoryLockKey})", ct);
        try
        {
            await Execute(conn, VersionTableSql, ct);
            var from = await CurrentVersionAsync(conn, ct);
            if (from > latest)
                throw new MigrationException(
                    $"The database schema is at version {from}, newer than this build knows ({latest}). Refusing to downgrade; run a newer Parley.");
            var applied = new List<Migration>();
            foreach (var migration in migrations.Where(m => m.Version > from))
            {
                progress?.Report($"applying migration {migration.Version:D4}_{migration.Name}");
                await using var tx = await conn.BeginTransactionAsync(ct);
                try
                {
                    await using (var cmd = new NpgsqlCommand(migration.Sql, conn, tx))
                        await cmd.ExecuteNonQueryAsync(ct);
                    await using (var cmd = new NpgsqlCommand("INSERT INTO schema_version (version, name) VALUES ($1, $2)", conn, tx))
                    {
                        cmd.Parameters.Add(new() { Value = migration.Version });
                        cmd.Parameters.Add(new() { Value = migration.Name });
                        await cmd.ExecuteNonQueryAsync(ct);
                    }
                    await tx.CommitAsync(ct);
                }
                catch (PostgresException e)
                {
                    // DDL is transactional in PostgreSQL: the rollback undoes every statement of the script.
                    throw new MigrationException(
                        $"Migration {migration.Version:D4}_{migration.Name} failed and was rolled back; the schema stays at version "
                        + $"{from + applied.Count}: {e.SqlState}: {e.MessageText}", e);
                }
                applied.Add(migration);
            }
            return new MigrationResult(from, Math.Max(from, latest), applied);
        }
        finally
        {
            // A broken connection has lost its session, and the lock with it.
            if (conn.FullState == System.Data.ConnectionState.Open)
                await Execute(conn, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    private static async Task Execute(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
