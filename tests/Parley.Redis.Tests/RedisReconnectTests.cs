using System.Threading.Channels;
using Parley.Kit.Chaos.Proxy;

namespace Parley.Redis.Tests;

/// <summary>Kills the server under the client: its fixture's server is its own, as for every class.</summary>
[Trait("Category", "Integration")]
public sealed class RedisReconnectTests(RedisServerFixture server) : RedisServerTest(server)
{
    [Fact]
    public async Task Server_killed_mid_pipeline_fails_in_flight_commands_and_the_client_reconnects_by_itself()
    {
        var states = Channel.CreateUnbounded<bool>();
        Client.ConnectionStateChanged += (_, e) => states.Writer.TryWrite(e.IsConnected);
        var key = Client.Key("k");
        await Client.SetAsync(key, "before");

        // A blocked command pins the pipeline; thousands more queue behind it on the server.
        var blocked = Client.ExecuteAsync("BLPOP", [Client.Key("never"), 30], TimeSpan.FromSeconds(60));
        var behind = Enumerable.Range(0, 5_000).Select(_ => Client.IncrAsync(Client.Key("n"))).ToArray();
        await WaitForBlockedClientsAsync();
        Assert.False(blocked.IsCompleted);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Server.KillAsync();
        try
        {
            await Assert.ThrowsAsync<RedisConnectionException>(() => blocked);
            foreach (var task in behind)
            {
                await Assert.ThrowsAsync<RedisConnectionException>(() => task);
            }

            Assert.False(await states.Reader.ReadAsync(timeout.Token));
            Assert.False(Client.IsConnected);

            // While down, new commands fail at once (a connection error) instead of queueing until their 5 s timeout.
            await Assert.ThrowsAsync<RedisConnectionException>(() => Client.GetStringAsync(key));
        }
        finally
        {
            await Server.StartAsync();
        }
        Assert.True(await states.Reader.ReadAsync(timeout.Token));
        Assert.True(Client.IsConnected);

        // The server restarted without persistence: the old key is gone, new commands work.
        Assert.True(await Client.SetAsync(key, "after"));
        Assert.Equal("after", await Client.GetStringAsync(key));
        Assert.Equal(1, await Client.IncrAsync(Client.Key("fresh")));
    }

    [Fact]
    public async Task A_partition_resets_the_silent_connection_so_a_timed_out_write_never_runs_late()
    {
        await using var proxy = FaultProxy.Start("redis", int.Parse(Server.Endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
        var options = Server.Options();
        options.Endpoint = proxy.Endpoint;
        options.CommandTimeout = TimeSpan.FromMilliseconds(300);
        options.ReconnectMinBackoff = options.ReconnectMaxBackoff = TimeSpan.FromSeconds(1);
        await using var client = await RedisClient.ConnectAsync(options);
        var late = client.Key("late");
        // The 300 ms timeout is for the partitioned write; the commands around it take 5 s, so a busy machine does not time them out.
        var patient = TimeSpan.FromSeconds(5);
        Assert.Equal("OK", (await client.ExecuteAsync("SET", [client.Key("before"), "1"], patient)).AsString());

        // Partitioned: the write waits in the network, as it would behind an iptables DROP.
        proxy.Set(FaultDirection.Both, LinkFaults.Partitioned);
        await Assert.ThrowsAsync<RedisTimeoutException>(() => client.SetAsync(late, "written during the partition"));
        Assert.False(client.IsConnected); // silent past the command timeout: reset, not kept with a write still in it
        // The proxy holds what a real network keeps in the sender's buffer; the reset must reach it before the heal.
        await WaitUntil(() => Task.FromResult(proxy.OpenConnections == 0), "the proxy to see the reset");

        proxy.Clear();
        await WaitUntil(() => Task.FromResult(client.IsConnected), "the client to reconnect after the partition");
        Assert.Equal("1", (await client.ExecuteAsync("GET", [client.Key("before")], patient)).AsString());
        // Had the connection been kept, the held SET would have reached Redis now, long after its caller gave up.
        await using var other = await RedisClient.ConnectAsync(Server.Options());
        Assert.Null(await other.GetStringAsync(late));
    }

    [Fact]
    public async Task Subscriber_resubscribes_after_the_server_restarts()
    {
        var received = Channel.CreateUnbounded<string>();
        var channel = Client.Key("chan");
        await using var subscriber = await SubscribeAsync(channel, received);

        await Server.KillAsync();
        try
        {
            await WaitUntil(() => Task.FromResult(!subscriber.IsConnected), "the subscriber to notice the crash");
        }
        finally
        {
            await Server.StartAsync();
        }

        await WaitUntil(async () => Client.IsConnected && await Client.PublishAsync(channel, "hello") == 1, "the subscriber to resubscribe");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal("hello", await received.Reader.ReadAsync(timeout.Token));
    }

    [Fact]
    public async Task A_client_started_while_redis_is_down_connects_once_it_is_up()
    {
        await Server.KillAsync();
        try
        {
            var options = Options.Clone();
            options.AbortOnConnectFail = false;
            await using var late = await RedisClient.ConnectAsync(options);
            Assert.False(late.IsConnected);
            await Assert.ThrowsAsync<RedisConnectionException>(() => late.PingAsync());

            await Server.StartAsync();
            await WaitUntil(() => Task.FromResult(late.IsConnected), "the background connect to succeed");
            await late.PingAsync();
        }
        finally
        {
            await Server.StartAsync();
        }
    }
}
