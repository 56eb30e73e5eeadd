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

    protected override Task<bool> ProbeAsync(CancellationToken ct) => QueryIsTrueAsync(StreamingSql, ct);
}
