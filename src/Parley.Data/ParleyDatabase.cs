using Npgsql;

namespace Parley.Data;

/// <summary>The data sources Parley talks to: the primary always, a replica when configured.</summary>
public sealed class ParleyDatabase : IAsyncDisposable
{
    public ParleyDatabase(DataOptions options)
    {
        Primary = Build(options.PrimaryConnectionString, options, "primary");
        if (!string.IsNullOrWhiteSpace(options.ReplicaConnectionString))
            Replica = Build(options.ReplicaConnectionString, options, "replica", options.Replica.ConnectTimeoutSeconds);
    }

    public NpgsqlDataSource Primary { get; }

    public NpgsqlDataSource? Replica { get; }

    private static NpgsqlDataSource Build(string connectionString, DataOptions options, string name, int? connectTimeoutSeconds = null)
    {
        var csb = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = options.MaxPoolSize,
            // Npgsql's Timeout bounds both connecting and waiting for a free pooled connection.
            Timeout = connectTimeoutSeconds ?? options.PoolWaitSeconds,
            CommandTimeout = options.StatementTimeoutSeconds + 1,
            ApplicationName = $"parley-{name}",
        };
        if (options.PgBouncerTransactionMode)
        {
            // Session state does not survive transaction pooling.
            csb.NoResetOnClose = true;
            csb.MaxAutoPrepare = 0;
        }
        else
        {
            csb.Options = $"-c statement_timeout={options.StatementTimeoutSeconds * 1000}";
            // The stores run a few dozen fixed statements: prepare them once per connection
            // instead of parsing and planning each execution.
            csb.MaxAutoPrepare = 64;
            csb.AutoPrepareMinUsages = 2;
        }
        var builder = new NpgsqlDataSourceBuilder(csb.ConnectionString) { Name = name };
        return builder.Build();
    }

    public async ValueTask DisposeAsync()
    {
        await Primary.DisposeAsync();
        if (Replica is not null) await Replica.DisposeAsync();
    }
}
