using System.Globalization;
using Npgsql;

namespace Parley.Kit.Stack.Internal;

/// <summary>What the primary and the replica share: pg_ctl start/stop, the pid file, probe connections.</summary>
internal abstract class PostgresServer(StackComponentKind kind, string dataDirectory, StackEnvironment env)
    : ComponentDriver(kind, dataDirectory, env)
{
    public const string User = "parley";

    /// <summary>The replica's application_name in its primary_conninfo, which the primary's synchronous_standby_names names.</summary>
    public const string ReplicaApplicationName = "replica";

    protected override string PidFile => Path.Combine(Directory, "postmaster.pid");

    protected override string ProcessName => "postgres";

    /// <summary>More server options for the postgres command line (already shell-quoted), applied on every start.</summary>
    protected virtual string ExtraServerOptions => "";

    /// <summary>
    /// Logical decoding for the observer's replication slot (and room for its slots and senders), passed on every
    /// start so data directories created before it get it too. Primary and replica pass the same values: a hot
    /// standby refuses to start with fewer max_wal_senders than its primary.
    /// </summary>
    protected const string ReplicationOptions = " -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20";

    /// <summary>
    /// Where completed WAL segments are copied (archive_mode = on, never overwriting a segment), or null for no archive. Both servers
    /// get it: a standby does not archive, but once promoted it does, on its new timeline, into the same directory.
    /// </summary>
    public string? WalArchiveDirectory { get; set; }

    private string ArchiveOptions => WalArchiveDirectory is not { } archive ? ""
        : " -c archive_mode=on -c " + Shell.Quote($"archive_command=test ! -f {archive}/%f && cp %p {archive}/%f");

    public override string ShellStopCommand =>
        $"{Env.ShellAsPostgres}{Shell.Quote(Env.Binaries.PgCtl)} -D {Shell.Quote(Directory)} stop -m fast -w -t {StopSeconds} || stop_pid {Shell.Quote(PidFile)}";

    private static string StopSeconds => StackEnvironment.StopTimeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username={User};Database={database}";

    /// <summary>pg_ctl start -w: returns once the server accepts connections. Port and socket directory go on the command line so a restart keeps them.</summary>
    protected override async Task LaunchAsync(CancellationToken ct)
    {
        // After a SIGKILL, PostgreSQL removes its own stale lock files, unless their pid now belongs to another process.
        DeleteStalePidFile();
        foreach (var socketLock in System.IO.Directory.EnumerateFiles(Directory, ".s.PGSQL.*.lock"))
        {
            var owner = File.ReadLines(socketLock).FirstOrDefault();
            if (!int.TryParse(owner, out var pid) || !ProcessTree.IsAliveAs(pid, ProcessName))
                File.Delete(socketLock);
        }
        var waitSeconds = Env.ReadyTimeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
        var result = await Env.RunAsPostgresAsync(
            Env.Binaries.PgCtl,
            ["-D", Directory, "-l", LogFile, "-o", $"-p {Port} -k {Shell.Quote(Directory)}{ReplicationOptions}{ArchiveOptions}{ExtraServerOptions}", "-w", "-t", waitSeconds, "start"],
            DataDirectory,
            Env.ReadyTimeout + TimeSpan.FromSeconds(10),
            ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"pg_ctl start exited with {result.ExitCode}: {result.Output.Trim()}");
    }

    /// <summary>pg_ctl stop -m fast (rolls back open transactions, checkpoints); SIGKILL if it does not finish.</summary>
    public override async Task StopAsync(CancellationToken ct)
    {
        if (ReadPid() is not { } pid || !ProcessTree.IsAlive(pid))
            return;
        Env.Report($"{Name}: stopping (pid {pid})");
        var result = await Env.RunAsPostgresAsync(
            Env.Binaries.PgCtl, ["-D", Directory, "stop", "-m", "fast", "-w", "-t", StopSeconds], DataDirectory, StackEnvironment.CommandTimeout, ct)
            .ConfigureAwait(false);
        if (result.ExitCode != 0 || ProcessTree.IsAlive(pid))
            await ProcessTree.KillTreeAsync(pid, StackEnvironment.StopTimeout, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Commits wait for the replica's flush (synchronous_standby_names = the replica) or not. ALTER SYSTEM rather than the command line:
    /// it takes effect on a reload, and pg_basebackup copies postgresql.auto.conf, so a replica promoted later already has it.
    /// </summary>
    public Task SetSynchronousStandbyAsync(bool synchronous, CancellationToken ct) =>
        ExecuteAsync(synchronous
            ? $"ALTER SYSTEM SET synchronous_standby_names = '{ReplicaApplicationName}'"
            : "ALTER SYSTEM SET synchronous_standby_names = ''", ct);

    /// <summary>True when commits on this server wait for a standby.</summary>
    public async Task<bool> IsSynchronousAsync(CancellationToken ct) =>
        await QueryIsTrueAsync("SELECT current_setting('synchronous_standby_names') <> ''", ct).ConfigureAwait(false);

    /// <summary>Swaps the two servers' ports and data directories: after a promotion the primary role is the old replica's server.</summary>
    public static void SwapRoles(PostgresServer a, PostgresServer b)
    {
        (a.Port, b.Port) = (b.Port, a.Port);
        (a.Directory, b.Directory) = (b.Directory, a.Directory);
    }

    private async Task ExecuteAsync(string alterSystem, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false;Timeout=15;Command Timeout=15");
        await connection.OpenAsync(ct).ConfigureAwait(false);
        // ALTER SYSTEM refuses a transaction block, which one command of two statements would be.
        foreach (var sql in new[] { alterSystem, "SELECT pg_reload_conf()" })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Polls (bounded by the ready timeout) until <paramref name="sql"/> answers true.</summary>
    public async Task WaitUntilAsync(string sql, string what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + Env.ReadyTimeout;
        while (!await QueryIsTrueAsync(sql, ct).ConfigureAwait(false))
        {
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"{Name} did not {what} within {Env.ReadyTimeout.TotalSeconds:0} s (see {LogFile}).");
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Runs an ALTER SYSTEM statement and reloads the configuration.</summary>
    public Task AlterSystemAsync(string alterSystem, CancellationToken ct) => ExecuteAsync(alterSystem, ct);

    /// <summary>Runs <paramref name="sql"/> on a fresh unpooled connection; false when the server does not answer yet.</summary>
    protected async Task<bool> QueryIsTrueAsync(string sql, CancellationToken ct)
    {
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false;Timeout=5;Command Timeout=5");
            await connection.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(sql, connection);
            return await command.ExecuteScalarAsync(ct).ConfigureAwait(false) is true;
        }
        catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
        {
            return false;
        }
    }
}
