using System.Text.Json;
using Npgsql;
using Parley.Data.Migrations;
using Parley.Data.Schema;

namespace Parley.Data.Tests.Chaos;

/// <summary>
/// Migration failure (seed 004, migration): a migration that fails half-way leaves the schema exactly
/// as before and the version unchanged; nodes migrating at once serialise; a newer schema is refused.
/// </summary>
[Collection(ChaosPostgresCollection.Name)]
[Trait("Category", "Chaos")]
[Trait("Tier", "Smoke")]
[Trait("Kind", "migration")]
public sealed class MigrationFailureTests(ChaosPostgres server)
{
    /// <summary>Work a migration does before it fails: DDL of every kind and a row.</summary>
    private const string HalfWay = """
        CREATE TABLE chaos_new (id integer PRIMARY KEY);
        ALTER TABLE users ADD COLUMN chaos_note text;
        CREATE INDEX chaos_idx ON messages (sender_id);
        ALTER TABLE messages SET (autovacuum_vacuum_scale_factor = 0.5);
        DROP INDEX idx_outbox_dispatched_at;
        INSERT INTO feature_flags (name, enabled) VALUES ('chaos.flag', true);
        """;

    /// <summary>Case → the statement that fails after <see cref="HalfWay"/>, and the SQLSTATE it fails with.</summary>
    private static readonly Dictionary<string, (string Sql, string SqlState)> Failures = new()
    {
        ["division by zero"] = ("SELECT 1 / 0", PostgresErrorCodes.DivisionByZero),
        ["duplicate key"] = ("INSERT INTO feature_flags (name) VALUES ('chaos.flag')", PostgresErrorCodes.UniqueViolation),
        ["check violation"] = ("UPDATE feature_flags SET percentage = 200", PostgresErrorCodes.CheckViolation),
        ["foreign key violation"] = ("INSERT INTO participants (conversation_id, user_id, role, joined_at) VALUES (gen_random_uuid(), gen_random_uuid(), 'member', now())",
            PostgresErrorCodes.ForeignKeyViolation),
        ["NOT NULL column added to rows"] = ("ALTER TABLE users ADD COLUMN chaos_required text NOT NULL", PostgresErrorCodes.NotNullViolation),
        ["syntax error"] = ("CREATE TABLEX chaos_oops ()", PostgresErrorCodes.SyntaxError),
        ["undefined table"] = ("ALTER TABLE chaos_no_such_table ADD COLUMN x integer", PostgresErrorCodes.UndefinedTable),
        ["raised exception"] = ("DO $$ BEGIN RAISE EXCEPTION 'chaos'; END $$", PostgresErrorCodes.RaiseException),
        ["statement timeout"] = ("SET LOCAL statement_timeout = '100ms'; SELECT pg_sleep(30)", PostgresErrorCodes.QueryCanceled),
        ["lock timeout behind a reader"] = ("SET LOCAL lock_timeout = '100ms'; LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE", PostgresErrorCodes.LockNotAvailable),
        ["connection killed"] = ("SELECT pg_terminate_backend(pg_backend_pid())", PostgresErrorCodes.AdminShutdown),
    };

    public static TheoryData<string> FailureCases => new(Failures.Keys);

    [Theory]
    [MemberData(nameof(FailureCases))]
    public async Task A_migration_failing_half_way_leaves_schema_data_version_and_lock_as_they_were(string failure)
    {
        var (sql, sqlState) = Failures[failure];
        await using var db = await server.CreateDatabaseAsync();
        await db.ExecuteAsync("INSERT INTO users (id, handle, display_name, password_hash, created_at) VALUES (gen_random_uuid(), 'chaos', 'c', 'x', now())");
        var before = await SnapshotAsync(db);

        // A reader holding conversations: what the lock-timeout case waits behind (the other cases do not touch it).
        await using var reader = await db.Source.OpenConnectionAsync();
        await using var readerTx = await reader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM conversations", reader, readerTx))
            await read.ExecuteScalarAsync();

        var failed = await Assert.ThrowsAsync<MigrationException>(() => Migrator.MigrateAsync(db.Source, With(new Migration(9, "chaos", HalfWay + sql)), null, default));
        await readerTx.RollbackAsync();
        Assert.Contains("Migration 0009_chaos failed and was rolled back; the schema stays at version 8", failed.Message, StringComparison.Ordinal);
        Assert.Equal(sqlState, ((NpgsqlException)failed.InnerException!).SqlState);

        Assert.Equal(before, await SnapshotAsync(db));
        Assert.Equal(8, await db.ScalarAsync<int>("SELECT max(version) FROM schema_version"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM feature_flags WHERE name = 'chaos.flag'"));
        Assert.True(await db.ScalarAsync<bool>($"SELECT pg_try_advisory_lock({Migrator.AdvisoryLockKey})"), "the migration lock was left held");
        await db.ExecuteAsync($"SELECT pg_advisory_unlock_all()");

        // Fixed, the same version applies.
        var fixedRun = await Migrator.MigrateAsync(db.Source, With(new Migration(9, "chaos", HalfWay)), null, default);
        Assert.Equal((8, 9), (fixedRun.FromVersion, fixedRun.ToVersion));
    }

    [Fact]
    public async Task A_run_keeps_the_migrations_before_the_failing_one()
    {
        await using var db = await server.CreateDatabaseAsync();
        var migrations = With(new Migration(9, "first", "CREATE TABLE chaos_first (id integer)"), new Migration(10, "second", "CREATE TABLE chaos_second (id integer); SELECT 1 / 0"));
        var failed = await Assert.ThrowsAsync<MigrationException>(() => Migrator.MigrateAsync(db.Source, migrations, null, default));
        Assert.Contains("0010_second failed and was rolled back; the schema stays at version 9", failed.Message, StringComparison.Ordinal);
        Assert.Equal(9, await db.ScalarAsync<int>("SELECT max(version) FROM schema_version"));
        Assert.True(await db.ScalarAsync<bool>("SELECT to_regclass('chaos_first') IS NOT NULL AND to_regclass('chaos_second') IS NULL"));
    }

    [Fact]
    public async Task A_migration_cancelled_by_its_caller_is_rolled_back()
    {
        await using var db = await server.CreateDatabaseAsync();
        var before = await SnapshotAsync(db);
        using var cancel = new CancellationTokenSource();
        var run = Migrator.MigrateAsync(db.Source, With(new Migration(9, "chaos", HalfWay + "SELECT pg_sleep(60)")), null, cancel.Token);
        await WaitForAsync(db, "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(before, await SnapshotAsync(db));
        Assert.Equal(8, await db.ScalarAsync<int>("SELECT max(version) FROM schema_version"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public async Task Nodes_migrating_an_empty_database_at_once_apply_each_migration_exactly_once(int nodes)
    {
        await using var db = await server.CreateDatabaseAsync(migrated: false);
        var sources = Enumerable.Range(0, nodes).Select(_ => NpgsqlDataSource.Create(db.ConnectionString)).ToList();
        try
        {
            var results = await Task.WhenAll(sources.Select(s => Task.Run(() => Migrator.MigrateAsync(s))));
            var applied = results.SelectMany(r => r.Applied).Select(m => m.Version).Order().ToList();
            Assert.Equal(Enumerable.Range(1, Migrator.LatestVersion), applied);
            Assert.All(results, r => Assert.Equal(Migrator.LatestVersion, r.ToVersion));
            Assert.Equal(Migrator.LatestVersion, (int)await db.ScalarAsync<long>("SELECT count(*) FROM schema_version"));
            Assert.True((await SchemaDoctor.CheckAsync(db.Source)).Ok);
        }
        finally
        {
            foreach (var source in sources) await source.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_migration_waits_for_the_lock_another_node_holds_and_touches_nothing_before()
    {
        await using var db = await server.CreateDatabaseAsync(migrated: false);
        await using var holder = await db.Source.OpenConnectionAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({Migrator.AdvisoryLockKey})", holder))
            await take.ExecuteNonQueryAsync();

        var run = Task.Run(() => Migrator.MigrateAsync(db.Source));
        await WaitForAsync(db, "SELECT count(*) > 0 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted");
        Assert.False(run.IsCompleted);
        Assert.True(await db.ScalarAsync<bool>("SELECT to_regclass('schema_version') IS NULL"));

        await using (var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({Migrator.AdvisoryLockKey})", holder))
            await release.ExecuteNonQueryAsync();
        var result = await run.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal((0, Migrator.LatestVersion), (result.FromVersion, result.ToVersion));
    }

    [Fact]
    public async Task A_schema_newer_than_the_code_is_refused_with_a_clear_message_and_nothing_changes()
    {
        await using var db = await server.CreateDatabaseAsync();
        await db.ExecuteAsync("INSERT INTO schema_version (version, name) VALUES (9, 'from_the_future')");
        var before = await SnapshotAsync(db);
        var refused = await Assert.ThrowsAsync<MigrationException>(() => Migrator.MigrateAsync(db.Source));
        Assert.Equal($"The database schema is at version 9, newer than this build knows ({Migrator.LatestVersion}). Refusing to downgrade; run a newer Parley.", refused.Message);
        Assert.Equal(before, await SnapshotAsync(db));
        Assert.Equal(9, await db.ScalarAsync<int>("SELECT max(version) FROM schema_version"));
    }

    private static List<Migration> With(params Migration[] extra) => [.. Migrator.Known, .. extra];

    /// <summary>The public schema's catalog as JSON (records with lists do not compare by content).</summary>
    private static async Task<string> SnapshotAsync(TestDatabase db)
    {
        await using var conn = await db.Source.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        return JsonSerializer.Serialize(await SchemaSnapshot.ReadAsync(conn, tx, "public"));
    }

    /// <summary>Polls <paramref name="condition"/> (a boolean query) until it holds, for at most a minute.</summary>
    private static async Task WaitForAsync(TestDatabase db, string condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (!await db.ScalarAsync<bool>(condition))
            await Task.Delay(50, timeout.Token);
    }
}
