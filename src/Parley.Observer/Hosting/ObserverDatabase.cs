using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Parley.Observer.Hosting;

/// <summary>
/// The observer's direct connection to the primary (replication, the lease, the queue):
/// <c>Parley:Observer:ConnectionString</c>, else <c>Parley:Data:PrimaryConnectionString</c>. Never
/// through PgBouncer: replication needs the server itself.
/// </summary>
public sealed class ObserverDatabase : IAsyncDisposable
{
    public ObserverDatabase(IOptions<ObserverOptions> options, IConfiguration configuration)
    {
        var text = options.Value.ConnectionString ?? configuration["Parley:Data:PrimaryConnectionString"];
        if (string.IsNullOrWhiteSpace(text))
            throw new InvalidOperationException("The observer needs Parley:Observer:ConnectionString or Parley:Data:PrimaryConnectionString.");
        ConnectionString = new NpgsqlConnectionStringBuilder(text) { CommandTimeout = 10, Timeout = 5 }.ConnectionString;
        Source = NpgsqlDataSource.Create(ConnectionString);
    }

    public string ConnectionString { get; }

    public NpgsqlDataSource Source { get; }

    public ValueTask DisposeAsync() => Source.DisposeAsync();
}
