using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Parley.Observer.Hosting;

/// <summary>
/// The observer's direct connection to the primary (replication, the lease, the queue):
/// <c>Parley:Observer:ConnectionString</c>, else <c>Parley:Data:PrimaryConnectionString</c>. Never
/// through PgBouncer: replication needs the server itself. Its transactions end when idle for half a lease.
/// </summary>
public sealed class ObserverDatabase : IAsyncDisposable
{
    public ObserverDatabase(IOptions<ObserverOptions> options, IConfiguration configuration)
    {
        var text = options.Value.ConnectionString ?? configuration["Parley:Data:PrimaryConnectionString"];
        if (string.IsNullOrWhiteSpace(text))
            throw new InvalidOperationException("The observer needs Parley:Observer:ConnectionString or Parley:Data:PrimaryConnectionString.");
        ConnectionString = new NpgsqlConnectionStringBuilder(text) { CommandTimeout = 10, Timeout = 5 }.ConnectionString;
        // A leader paused or cut off inside an enqueue holds the lease row (FOR SHARE) and would keep a standby from
        // taking the lapsed lease: the server ends such a transaction after half a lease, well before the takeover bound.
        var source = new NpgsqlConnectionStringBuilder(ConnectionString);
        var idle = (int)Math.Max(100, options.Value.LeaseDuration.TotalMilliseconds / 2);
        source.Options = $"{source.Options} -c idle_in_transaction_session_timeout={idle}".Trim();
        Source = NpgsqlDataSource.Create(source.ConnectionString);
    }

    public string ConnectionString { get; }

    public NpgsqlDataSource Source { get; }

    public ValueTask DisposeAsync() => Source.DisposeAsync();
}
