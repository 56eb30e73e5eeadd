using System.Reflection;
using System.Text.RegularExpressions;
using Npgsql;

namespace Parley.Data.Migrations;

/// <summary>One embedded <c>NNNN_name.sql</c> script.</summary>
public sealed record Migration(int Version, string Name, string Sql);

/// <summary>Outcome of a migration run.</summary>
public sealed record MigrationResult(int FromVersion, int ToVersion, IReadOnlyList<Migration> Applied);

/// <summary>
/// Applies the numbered, embedded SQL migrations in order: gap-free, each in its own transaction,
/// serialised across processes by an advisory lock, and refusing to run against a newer schema.
/// </summary>
public static partial class Migrator
{
    // Arbitrary but fixed: every Parley process takes the same lock.
    private const long AdvisoryLockKey = 0x5041524C4559; // "PARLEY"

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

    public static async Task<MigrationResult> MigrateAsync(NpgsqlDataSource dataSource, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await Execute(conn, """
            CREATE TABLE IF NOT EXISTS schema_version (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, ct);
        await Execute(conn, $"SELECT pg_advisory_lock({AdvisoryLockKey})", ct);
        try
        {
            var from = await CurrentVersionAsync(conn, ct);
            if (from > LatestVersion)
                throw new InvalidOperationException(
                    $"The database schema is at version {from}, newer than this build knows ({LatestVersion}). Refusing to downgrade; run a newer Parley.");
            var applied = new List<Migration>();
            foreach (var migration in Known.Where(m => m.Version > from))
            {
                progress?.Report($"applying migration {migration.Version:D4}_{migration.Name}");
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var cmd = new NpgsqlCommand(migration.Sql, conn, tx))
                    await cmd.ExecuteNonQueryAsync(ct);
                await using (var cmd = new NpgsqlCommand("INSERT INTO schema_version (version, name) VALUES ($1, $2)", conn, tx))
                {
                    cmd.Parameters.Add(new() { Value = migration.Version });
                    cmd.Parameters.Add(new() { Value = migration.Name });
                    await cmd.ExecuteNonQueryAsync(ct);
                }
                await tx.CommitAsync(ct);
                applied.Add(migration);
            }
            return new MigrationResult(from, Math.Max(from, LatestVersion), applied);
        }
        finally
        {
            await Execute(conn, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    private static async Task Execute(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
