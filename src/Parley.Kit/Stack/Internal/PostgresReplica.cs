namespace Parley.Kit.Stack.Internal;

/// <summary>A hot standby cloned with pg_basebackup -R -X stream, ready once its WAL receiver is streaming.</summary>
internal sealed class PostgresReplica(string dataDirectory, StackEnvironment env, PostgresPrimary primary)
    : PostgresServer(StackComponentKind.Replica, dataDirectory, env)
{
    private const string StreamingSql = """
        SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
        """;

    protected override Task PrepareAsync(CancellationToken ct) =>
        Env.RunAsPostgresCheckedAsync(
            Env.Binaries.PgBaseBackup,
            ["-h", "127.0.0.1", "-p", primary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", User,
             "-D", Directory, "-R", "-X", "stream", "--checkpoint=fast"],
            DataDirectory,
            StackEnvironment.CommandTimeout,
            ct);

    // The primary's port may differ from the one pg_basebackup wrote into postgresql.auto.conf; the command line wins.
    protected override string ExtraServerOptions =>
        " -c " + Shell.Quote($"primary_conninfo=host=127.0.0.1 port={primary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)} user={User} application_name={ReplicaApplicationName}");

    /// <summary>pg_ctl promote -w: ends recovery and returns once the server accepts writes (a new timeline).</summary>
    public async Task PromoteAsync(CancellationToken ct)
    {
        var waitSeconds = Env.ReadyTimeout.TotalSeconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture);
        await Env.RunAsPostgresCheckedAsync(
            Env.Binaries.PgCtl, ["-D", Directory, "-w", "-t", waitSeconds, "promote"], DataDirectory, Env.ReadyTimeout + TimeSpan.FromSeconds(10), ct)
            .ConfigureAwait(false);
    }

    // A standby's data has standby.signal; without it (a failover that promoted this directory and stopped before re-seeding the
    // other) it would start as a second primary.
    protected override bool DataIsUsable => File.Exists(Path.Combine(Directory, "standby.signal"));

    // Everything the replica holds is on the primary, so cloning it again loses nothing.
    protected override bool CanReseed => true;

    // The primary recycled WAL the replica still needs (it was down too long): it would retry forever.
    protected override string? HopelessLogLine => "has already been removed";

    protected override Task<bool> ProbeAsync(CancellationToken ct) => QueryIsTrueAsync(StreamingSql, ct);
}
