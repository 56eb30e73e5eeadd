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
        // 3 s of latency against a 1 s command timeout: the timeout fires (no stopwatch bound to stretch on a busy machine).
        // CancellationTimeout −1: Npgsql breaks the connection at once instead of waiting for the late answer.
        var builder = new NpgsqlConnectionStringBuilder(Chaos.PrimaryConnectionString) { Pooling = false, CommandTimeout = 1, CancellationTimeout = -1 };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        Chaos.Primary.Set(FaultDirection.Downstream, new LinkFaults { Latency = TimeSpan.FromSeconds(3) });
        await using (var command = new NpgsqlCommand("SELECT 1", connection))
        {
            var error = await Assert.ThrowsAsync<NpgsqlException>(() => command.ExecuteScalarAsync()).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.IsType<TimeoutException>(error.InnerException);
        }
        Chaos.Primary.Clear();
        Assert.Equal(1, await ScalarAsync(Chaos.PrimaryConnectionString, "SELECT 1"));
    }

    [Fact]
    public async Task A_partitioned_replica_fails_within_the_connect_timeout_and_heals()
    {
        Chaos.Replica!.Set(FaultDirection.Both, LinkFaults.Blackhole);
        // The 1 s connect timeout fires (a hang would outlast the generous 30 s bound).
        var error = await Assert.ThrowsAsync<NpgsqlException>(() => ScalarAsync(Chaos.ReplicaConnectionString!, "SELECT 1", connectTimeoutSeconds: 1)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.IsType<TimeoutException>(error.InnerException);
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
        // Wait for the reset itself (every connection through the proxy gone), bounded.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Chaos.Primary.OpenConnections > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, Chaos.Primary.OpenConnections);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        // A broken connection, not an error the server answered (PostgresException).
        await Assert.ThrowsAsync<NpgsqlException>(() => command.ExecuteScalarAsync());
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
