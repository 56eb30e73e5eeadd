using System.Globalization;
using Npgsql;

namespace Parley.Kit.Stack.Internal;

/// <summary>What the primary and the replica share: pg_ctl start/stop, the pid file, probe connections.</summary>
internal abstract class PostgresServer(StackComponentKind kind, string dataDirectory, StackEnvironment env)
    : ComponentDriver(kind, dataDirectory, env)
{
    public const string User = "parley";

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
            ["-D", Directory, "-l", LogFile, "-o", $"-p {Port} -k {Shell.Quote(Directory)}{ReplicationOptions}{ExtraServerOptions}", "-w", "-t", waitSeconds, "start"],
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
