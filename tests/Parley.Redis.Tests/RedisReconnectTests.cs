using System.Threading.Channels;

namespace Parley.Redis.Tests;

/// <summary>Kills the server under the client: in a class of its own so its fixture's server is its own.</summary>
[Trait("Category", "Integration")]
public sealed class RedisReconnectTests(RedisServerFixture server) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task Server_killed_mid_pipeline_fails_in_flight_commands_and_the_client_reconnects_by_itself()
    {
        await using var client = await RedisClient.ConnectAsync(server.Options("reconnect"));
        var states = Channel.CreateUnbounded<bool>();
        client.ConnectionStateChanged += (_, e) => states.Writer.TryWrite(e.IsConnected);
        var key = client.Key("k");
        await client.SetAsync(key, "before");

        // A blocked command pins the pipeline; thousands more queue behind it on the server.
        var blocked = client.ExecuteAsync("BLPOP", [client.Key("never"), 30], TimeSpan.FromSeconds(60));
        var behind = Enumerable.Range(0, 5_000).Select(_ => client.IncrAsync(client.Key("n"))).ToArray();
        await Task.Delay(200);
        Assert.False(blocked.IsCompleted);

        await server.KillAsync();

        await Assert.ThrowsAsync<RedisConnectionException>(() => blocked);
        foreach (var task in behind)
        {
            await Assert.ThrowsAsync<RedisConnectionException>(() => task);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.False(await states.Reader.ReadAsync(timeout.Token));
        Assert.False(client.IsConnected);

        // While down, new commands fail fast instead of queueing.
        var started = DateTime.UtcNow;
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.GetStringAsync(key));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(1), "commands must fail fast while disconnected");

        await server.StartAsync();
        Assert.True(await states.Reader.ReadAsync(timeout.Token));
        Assert.True(client.IsConnected);

        // The server restarted without persistence: the old key is gone, new commands work.
        Assert.True(await client.SetAsync(key, "after"));
        Assert.Equal("after", await client.GetStringAsync(key));
        Assert.Equal(1, await client.IncrAsync(client.Key("fresh")));
    }

    [Fact]
    public async Task Subscriber_resubscribes_after_the_server_restarts()
    {
        var options = server.Options("resub");
        await using var subscriber = await RedisSubscriber.ConnectAsync(options);
        var received = Channel.CreateUnbounded<string>();
        var channel = options.KeyPrefix + "chan";
        await subscriber.SubscribeAsync(channel, m => { received.Writer.TryWrite(m.Text); });

        await server.KillAsync();
        await RedisSubscriberTests.WaitUntil(() => Task.FromResult(!subscriber.IsConnected), "the subscriber to notice the crash");
        await server.StartAsync();

        await using var client = await RedisClient.ConnectAsync(options);
        await RedisSubscriberTests.WaitUntil(async () => await client.PublishAsync(channel, "hello") == 1, "the subscriber to resubscribe");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal("hello", await received.Reader.ReadAsync(timeout.Token));
    }
}
