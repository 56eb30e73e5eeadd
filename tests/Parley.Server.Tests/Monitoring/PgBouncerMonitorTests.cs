using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Server.Monitoring;
using Parley.Server.Tests.Infrastructure;
using Parley.Server.Tests.Observability;

namespace Parley.Server.Tests.Monitoring;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class PgBouncerMonitorTests(ParleyFixture fixture)
{
    private string AdminConnectionString =>
        new NpgsqlConnectionStringBuilder(fixture.Stack.PgBouncerConnectionString!) { Database = "pgbouncer" }.ConnectionString;

    [Fact]
    public async Task The_admin_client_speaks_the_simple_protocol_the_console_requires()
    {
        await using var client = await PgBouncerAdminClient.ConnectAsync(AdminConnectionString, CancellationToken.None);

        var version = await client.QueryAsync("SHOW VERSION", CancellationToken.None);
        var error = await Assert.ThrowsAsync<PgBouncerAdminException>(() => client.QueryAsync("SHOW NONSENSE", CancellationToken.None));
        var pools = await client.QueryAsync("SHOW POOLS", CancellationToken.None);

        Assert.StartsWith("PgBouncer", Assert.Single(version).Values.Single(), StringComparison.Ordinal);
        Assert.Contains("SHOW NONSENSE", error.Message, StringComparison.Ordinal);
        Assert.Contains(pools, row => row["database"] == "pgbouncer" && row.ContainsKey("cl_waiting") && row.ContainsKey("maxwait"));
    }

    [Fact]
    public async Task Pools_show_their_saturation_waiting_clients_and_query_times()
    {
        using var metrics = new MonitorMetrics();
        var monitor = new PgBouncerMonitor(Options.Create(new MonitoringOptions { PgBouncerAdminConnectionString = AdminConnectionString }), metrics.Meter, new TestLogger<PgBouncerMonitor>());
        // An open transaction keeps its server connection active in transaction pooling mode.
        await using var connection = new NpgsqlConnection(fixture.Stack.PgBouncerConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("SELECT 1", connection, transaction))
            await command.ExecuteScalarAsync();

        PgBouncerSnapshot snapshot = await monitor.PollAsync(CancellationToken.None);

        PgBouncerPool pool = Assert.Single(snapshot.Pools, p => p.Pool == "parley/parley");
        Assert.True(pool.ActiveServers >= 1, $"expected an active server connection, got {pool}");
        Assert.True(pool.PoolSize > 0);
        Assert.Equal((double)pool.ActiveServers / pool.PoolSize, pool.Saturation);
        Assert.Contains(snapshot.Databases, d => d.Database == "parley");
        Assert.DoesNotContain(snapshot.Pools, p => p.Database == "pgbouncer");
        string text = metrics.Scrape();
        Assert.True(PrometheusAssert.Sample(text, "pgbouncer_pool_saturation{pool=\"parley/parley\"}") > 0);
        // One client holding one server connection: nobody waits, and the gauges say what the console said.
        Assert.Equal(0, pool.WaitingClients);
        Assert.Equal(TimeSpan.Zero, pool.MaxWait);
        Assert.Equal(pool.WaitingClients, PrometheusAssert.Sample(text, "pgbouncer_waiting_clients{pool=\"parley/parley\"}"));
        Assert.Equal(pool.MaxWait.TotalSeconds, PrometheusAssert.Sample(text, "pgbouncer_queue_wait_seconds{pool=\"parley/parley\"}"));
        var stats = snapshot.Databases.Single(d => d.Database == "parley");
        Assert.Equal(stats.AverageQuery.TotalSeconds, PrometheusAssert.Sample(text, "pgbouncer_avg_query_seconds{database=\"parley\"}"), 6);
    }

    [Fact]
    public async Task A_console_that_refuses_the_connection_fails_with_its_reason()
    {
        string wrongDatabase = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = "no_such_db_" + Guid.NewGuid().ToString("N")[..6], Username = "nobody" }.ConnectionString;
        var error = await Assert.ThrowsAsync<PgBouncerAdminException>(() => PgBouncerAdminClient.ConnectAsync(wrongDatabase, CancellationToken.None));
        Assert.Contains("refused the admin connection", error.Message, StringComparison.Ordinal);
    }
}
