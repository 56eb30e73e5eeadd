using Npgsql;

namespace Parley.Kit.Stack.Internal;

/// <summary>The primary: initdb with trust auth, settings for replication and tests, then the stack's database.</summary>
internal sealed class PostgresPrimary(string dataDirectory, StackEnvironment env, string database)
    : PostgresServer(StackComponentKind.Primary, dataDirectory, env)
{
    // Appended to postgresql.conf; later lines win. The port, socket directory and replication settings
    // (PostgresServer.ReplicationOptions) are passed to pg_ctl instead.
    private const string Settings = """

        # --- Parley local stack ---
        listen_addresses = '127.0.0.1'
        wal_keep_size = 256MB
        hot_standby = on
        fsync = on
        synchronous_commit = on
        shared_buffers = 128MB
        max_connections = 300
        """;

    private const string Hba = $"""

        host replication {User} 127.0.0.1/32 trust
        """;

    protected override async Task PrepareAsync(CancellationToken ct)
    {
        // initdb takes an empty directory its user owns; made here, the directory may sit anywhere (StackOptions.PrimaryDataDirectory).
        await Env.CreateDirectoryForPostgresAsync(Directory, ct).ConfigureAwait(false);
        await Env.RunAsPostgresCheckedAsync(
            Env.Binaries.InitDb,
            ["-D", Directory, "-U", User, "--auth=trust", "--encoding=UTF8", "--locale=C"],
            DataDirectory,
            StackEnvironment.CommandTimeout,
            ct).ConfigureAwait(false);
        await File.AppendAllTextAsync(Path.Combine(Directory, "postgresql.conf"), Settings, ct).ConfigureAwait(false);
        await File.AppendAllTextAsync(Path.Combine(Directory, "pg_hba.conf"), Hba, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Point-in-time recovery of a stopped server: its data replaced by a copy of <paramref name="baseBackup"/> (pg_basebackup's plain
    /// format), recovery.signal, and settings to replay WAL from <see cref="PostgresServer.WalArchiveDirectory"/> up to
    /// <paramref name="target"/> (commits at or before it; recovery_target_action = promote), so that a start replays and promotes.
    /// <see cref="FinishRecoveryAsync"/> removes the settings afterwards.
    /// </summary>
    public async Task PrepareRecoveryAsync(string baseBackup, DateTimeOffset target, CancellationToken ct)
    {
        var archive = WalArchiveDirectory ?? throw new InvalidOperationException("Point-in-time recovery needs the WAL archive (StackOptions.WalArchive).");
        if (System.IO.Directory.Exists(Directory))
            System.IO.Directory.Delete(Directory, recursive: true);
        await Env.RunAsPostgresCheckedAsync("cp", ["-a", baseBackup, Directory], DataDirectory, StackEnvironment.CommandTimeout, ct).ConfigureAwait(false);
        File.Delete(Path.Combine(Directory, "standby.signal"));
        var time = target.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", System.Globalization.CultureInfo.InvariantCulture);
        await File.AppendAllTextAsync(Path.Combine(Directory, "postgresql.auto.conf"), $"""

            restore_command = 'cp {archive}/%f %p'
            recovery_target_time = '{time}+00'
            recovery_target_action = 'promote'

            """, ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(Directory, "recovery.signal"), "", ct).ConfigureAwait(false);
    }

    /// <summary>Waits until the recovery has promoted the server, then drops the recovery settings (the next start is an ordinary one).</summary>
    public async Task FinishRecoveryAsync(CancellationToken ct)
    {
        await WaitUntilAsync("SELECT NOT pg_is_in_recovery()", "finish its point-in-time recovery", ct).ConfigureAwait(false);
        foreach (var setting in new[] { "restore_command", "recovery_target_time", "recovery_target_action" })
            await AlterSystemAsync($"ALTER SYSTEM RESET {setting}", ct).ConfigureAwait(false);
    }

    protected override Task<bool> ProbeAsync(CancellationToken ct) => QueryIsTrueAsync("SELECT true", ct);

    protected override async Task AfterCreateAsync(CancellationToken ct)
    {
        // Asynchronous until the stack has its replica (LocalStack applies StackOptions.SynchronousReplica then): a durable
        // primary left synchronous would otherwise wait for a standby that is not there yet.
        await SetSynchronousStandbyAsync(false, ct).ConfigureAwait(false);
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", connection)
        {
            Parameters = { new() { Value = database } },
        };
        if (await exists.ExecuteScalarAsync(ct).ConfigureAwait(false) is true)
            return;
        Env.Report($"{Name}: creating database {database}");
        // The name is validated by StackOptions (letters, digits, underscores), so quoting it is enough.
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", connection);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
