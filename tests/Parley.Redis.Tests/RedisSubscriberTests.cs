using System.Threading.Channels;

namespace Parley.Redis.Tests;

[Trait("Category", "Integration")]
public sealed class RedisSubscriberTests(RedisServerFixture server) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task Published_messages_reach_handlers_in_order_until_unsubscribed()
    {
        var options = server.Options("pubsub");
        await using var client = await RedisClient.ConnectAsync(options);
        await using var subscriber = await RedisSubscriber.ConnectAsync(options);
        var channel = client.Key("chan");
        var received = Channel.CreateUnbounded<string>();
        await subscriber.SubscribeAsync(channel, m => { received.Writer.TryWrite(m.Text); });

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(1, await client.PublishAsync(channel, $"m{i}"));
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal($"m{i}", await received.Reader.ReadAsync(timeout.Token));
        }

        await subscriber.UnsubscribeAsync(channel);
        await WaitUntil(async () => await client.PublishAsync(channel, "late") == 0, "the unsubscribe to take effect");
        Assert.Empty(subscriber.Channels);
    }

    [Fact]
    public async Task A_throwing_handler_does_not_stop_delivery()
    {
        var options = server.Options("pubsub-throw");
        await using var client = await RedisClient.ConnectAsync(options);
        await using var subscriber = await RedisSubscriber.ConnectAsync(options);
        var channel = client.Key("chan");
        var count = 0;
        await subscriber.SubscribeAsync(channel, _ =>
        {
            Interlocked.Increment(ref count);
            throw new InvalidOperationException("handler bug");
        });
        await client.PublishAsync(channel, "a");
        await client.PublishAsync(channel, "b");
        await WaitUntil(() => Task.FromResult(Volatile.Read(ref count) == 2), "both messages to be handled");
    }

    internal static async Task WaitUntil(Func<Task<bool>> condition, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {seconds} s waiting for {what}.");
            await Task.Delay(20);
        }
    }
}
