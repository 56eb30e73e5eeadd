using Npgsql;

namespace Parley.Kit.Stack.Internal;

/// <summary>PgBouncer in transaction pooling mode in front of the primary, trusting the <c>parley</c> user.</summary>
internal sealed class PgBouncerServer(string dataDirectory, StackEnvironment env, PostgresPrimary primary, string database)
    : ComponentDriver(StackComponentKind.PgBouncer, dataDirectory, env)
{
    /// <summary>
    /// Npgsql settings transaction pooling needs: a server connection is shared between clients, so no
    /// session reset on close and no prepared statements (a statement prepared on one server connection is unknown on the next).
    /// </summary>
    public const string TransactionPoolingSettings = "No Reset On Close=true;Max Auto Prepare=0";

    protected override string PidFile => Path.Combine(Directory, "pgbouncer.pid");

    protected override string ProcessName => "pgbouncer";

    private string ConfigFile => Path.Combine(Directory, "pgbouncer.ini");

    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port};Username={PostgresServer.User};Database={database};{TransactionPoolingSettings}";

    protected override async Task PrepareAsync(CancellationToken ct)
    {
        await Env.CreateDirectoryForPostgresAsync(Directory, ct).ConfigureAwait(false);
        WriteConfig(Path.Combine(Directory, "userlist.txt"), $"\"{PostgresServer.User}\" \"\"\n");
    }

    protected override async Task LaunchAsync(CancellationToken ct)
    {
        WriteConfig(ConfigFile, Config());
        DeleteStalePidFile();
        var result = await Env.RunAsPostgresAsync(Env.Binaries.PgBouncer!, ["-d", ConfigFile], Directory, StackEnvironment.CommandTimeout, ct)
            .ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"pgbouncer exited with {result.ExitCode}: {result.Output.Trim()}");
    }

    /// <summary>
    /// Points PgBouncer at the primary's current port (after a failover): the configuration rewritten, then SIGHUP; PgBouncer
    /// closes the server connections of a database whose address changed as they come back to its pool.
    /// </summary>
    public void FollowPrimary()
    {
        WriteConfig(ConfigFile, Config());
        if (ReadPid() is { } pid && ProcessTree.IsAliveAs(pid, ProcessName))
            ProcessTree.Hangup(pid);
    }

    protected override async Task<bool> ProbeAsync(CancellationToken ct)
    {
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString + ";Pooling=false;Timeout=5;Command Timeout=5");
            await connection.OpenAsync(ct).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            return await command.ExecuteScalarAsync(ct).ConfigureAwait(false) is 1;
        }
        catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
        {
            return false;
        }
    }

    private string Config() => $"""
        [databases]
        * = host=127.0.0.1 port={primary.Port}

        [pgbouncer]
        listen_addr = 127.0.0.1
        listen_port = {Port}
        unix_socket_dir = {Directory}
        auth_type = trust
        auth_file = {Path.Combine(Directory, "userlist.txt")}
        admin_users = {PostgresServer.User}
        pool_mode = transaction
        default_pool_size = 40
        ; a client queued longer than this for a server connection gets an error (Parley answers 503)
        query_wait_timeout = 3
        max_client_conn = 2000
        ignore_startup_parameters = extra_float_digits,options
        logfile = {LogFile}
        pidfile = {PidFile}

        """;
}
