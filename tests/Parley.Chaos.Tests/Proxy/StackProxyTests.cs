using System.Diagnostics;
using Npgsql;
using Parley.Kit.Chaos;
using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Proxy;

namespace Parley.Chaos.Tests.Proxy;

/// <summary>One real stack with a proxy in front of each server.</summary>
public sealed class ChaosStackFixture : IAsyncLifetime
{
    public ChaosStack Chaos { get; private set; } = null!;

    public async Task InitializeAsync() => Chaos = await ChaosStack.StartAsync();

    public async Task DisposeAsync()
    {
        if (Chaos is not null) await Chaos.DisposeAsync();
    }
}

[Trait("Category", "Integration")]
public sealed class StackProxyTests(ChaosStackFixture fixture) : IClassFixture<ChaosStackFixture>, IAsyncLifetime
{
    private ChaosStack Chaos => fixture.Chaos;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Chaos.ClearFaults();
        return Task.CompletedTask;
    }

    private static async Task<object?> ScalarAsync(string connectionString, string sql, int connectTimeoutSeconds = 5)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = connectTimeoutSeconds, CommandTimeout = 5 };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    [Fact]
    public async Task Every_server_answers_through_its_proxy()
    {
        Assert.Equal(false, await ScalarAsync(Chaos.PrimaryConnectionString, "SELECT pg_is_in_recovery()"));
        Assert.Equal(true, await ScalarAsync(Chaos.ReplicaConnectionString!, "SELECT pg_is_in_recovery()"));
        Assert.Equal(1, await ScalarAsync(Chaos.PgBouncerConnectionString!, "SELECT 1"));
        Assert.True(await RedisCommand.PingAsync(Chaos.RedisEndpoint!, TimeSpan.FromSeconds(5)));
        Assert.All(Chaos.Proxies, proxy => Assert.True(proxy.AcceptedConnections > 0, $"{proxy} carried no connection"));
    }

    [Fact]
    public async Task Latency_on_the_primary_slows_every_round_trip()
    {
        var builder = new NpgsqlConnectionStringBuilder(Chaos.PrimaryConnectionString) { Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        Chaos.Primary.Set(FaultDirection.Downstream, new LinkFaults { Latency = TimeSpan.FromMilliseconds(200) });
        var watch = Stopwatch.StartNew();
        await using (var command = new NpgsqlCommand("SELECT 1", connection))
            Assert.Equal(1, await command.ExecuteScalarAsync());
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(190), $"SELECT 1 took {watch.ElapsedMilliseconds} ms with 200 ms latency");
    }

    [Fact]
    public async Task A_partitioned_replica_fails_within_the_connect_timeout_and_heals()
    {
        Chaos.Replica!.Set(FaultDirection.Both, LinkFaults.Blackhole);
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<Exception>(() => ScalarAsync(Chaos.ReplicaConnectionString!, "SELECT 1", connectTimeoutSeconds: 1));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"the connect hung {watch.Elapsed.TotalSeconds:N1} s past its 1 s timeout");
        Chaos.Replica.Clear();
        Assert.Equal(1, await ScalarAsync(Chaos.ReplicaConnectionString!, "SELECT 1"));
    }

    [Fact]
    public async Task Reset_peer_breaks_an_open_database_session()
    {
        var builder = new NpgsqlConnectionStringBuilder(Chaos.PrimaryConnectionString) { Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        Chaos.Primary.Set(FaultDirection.Downstream, new LinkFaults { ResetPeer = TimeSpan.Zero });
        await Task.Delay(100);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => command.ExecuteScalarAsync());
        Chaos.Primary.Clear();
        Assert.Equal(1, await ScalarAsync(Chaos.PrimaryConnectionString, "SELECT 1"));
    }

    [Fact]
    public async Task Redis_behind_a_down_proxy_is_refused_then_back()
    {
        Chaos.Redis!.SetDown(true);
        Assert.False(await RedisCommand.PingAsync(Chaos.RedisEndpoint!, TimeSpan.FromSeconds(2)));
        Chaos.Redis.SetDown(false);
        Assert.True(await RedisCommand.PingAsync(Chaos.RedisEndpoint!, TimeSpan.FromSeconds(5)));
        Chaos.Redis.Set(FaultDirection.Upstream, new LinkFaults { Slicer = new Slicer(2, 1, TimeSpan.FromMilliseconds(1)) });
        Assert.True(await RedisCommand.PingAsync(Chaos.RedisEndpoint!, TimeSpan.FromSeconds(5)), "a sliced command still parses");
    }
}
