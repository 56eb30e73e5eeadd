using System.Threading.Channels;

namespace Parley.Redis.Tests;

[Trait("Category", "Integration")]
public sealed class RedisSubscriberTests(RedisServerFixture server) : RedisServerTest(server)
{
    [Fact]
    public async Task Published_messages_reach_handlers_in_order_until_unsubscribed()
    {
        var channel = Client.Key("chan");
        var received = Channel.CreateUnbounded<string>();
        await using var subscriber = await SubscribeAsync(channel, received);

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(1, await Client.PublishAsync(channel, $"m{i}"));
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal($"m{i}", await received.Reader.ReadAsync(timeout.Token));
        }

        await subscriber.UnsubscribeAsync(channel);
        await WaitUntil(async () => await Client.PublishAsync(channel, "late") == 0, "the unsubscribe to take effect");
        Assert.Empty(subscriber.Channels);
    }

    [Fact]
    public async Task A_throwing_handler_does_not_stop_delivery()
    {
        var channel = Client.Key("chan");
        await using var subscriber = await RedisSubscriber.ConnectAsync(Options);
        var count = 0;
        await subscriber.SubscribeAsync(channel, _ =>
        {
            Interlocked.Increment(ref count);
            throw new InvalidOperationException("handler bug");
        });
        await Client.PublishAsync(channel, "a");
        await Client.PublishAsync(channel, "b");
        await WaitUntil(() => Task.FromResult(Volatile.Read(ref count) == 2), "both messages to be handled");
    }

    [Fact]
    public async Task Several_channels_and_handlers_each_get_their_own_messages()
    {
        var (a, b) = (Client.Key("a"), Client.Key("b"));
        var intoA = Channel.CreateUnbounded<string>();
        var intoB = Channel.CreateUnbounded<string>();
        await using var subscriber = await SubscribeAsync(a, intoA);
        await subscriber.SubscribeAsync(b, m => { intoB.Writer.TryWrite(m.Channel + "=" + m.Text); });

        await Client.PublishAsync(b, "2");
        await Client.PublishAsync(a, "1");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal("1", await intoA.Reader.ReadAsync(timeout.Token));
        Assert.Equal(b + "=2", await intoB.Reader.ReadAsync(timeout.Token));
        Assert.Equal(2, subscriber.Channels.Count);
    }
}
