using System.Threading.Channels;

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
        await Task.Delay(200);
        Assert.False(blocked.IsCompleted);

        await Server.KillAsync();

        await Assert.ThrowsAsync<RedisConnectionException>(() => blocked);
        foreach (var task in behind)
        {
            await Assert.ThrowsAsync<RedisConnectionException>(() => task);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.False(await states.Reader.ReadAsync(timeout.Token));
        Assert.False(Client.IsConnected);

        // While down, new commands fail fast instead of queueing.
        var started = DateTime.UtcNow;
        await Assert.ThrowsAsync<RedisConnectionException>(() => Client.GetStringAsync(key));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(1), "commands must fail fast while disconnected");

        await Server.StartAsync();
        Assert.True(await states.Reader.ReadAsync(timeout.Token));
        Assert.True(Client.IsConnected);

        // The server restarted without persistence: the old key is gone, new commands work.
        Assert.True(await Client.SetAsync(key, "after"));
        Assert.Equal("after", await Client.GetStringAsync(key));
        Assert.Equal(1, await Client.IncrAsync(Client.Key("fresh")));
    }

    [Fact]
    public async Task Subscriber_resubscribes_after_the_server_restarts()
    {
        var received = Channel.CreateUnbounded<string>();
        var channel = Client.Key("chan");
        await using var subscriber = await SubscribeAsync(channel, received);

        await Server.KillAsync();
        await WaitUntil(() => Task.FromResult(!subscriber.IsConnected), "the subscriber to notice the crash");
        await Server.StartAsync();

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
