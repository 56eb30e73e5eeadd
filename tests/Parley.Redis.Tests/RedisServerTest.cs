using System.Threading.Channels;

namespace Parley.Redis.Tests;

/// <summary>
/// Base of the tests against a real server: one server per test class (the fixture), and per test a
/// fresh client whose key prefix is unique to that test.
/// </summary>
public abstract class RedisServerTest(RedisServerFixture server) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    protected RedisServerFixture Server => server;

    protected RedisOptions Options { get; } = server.Options();

    protected RedisClient Client { get; private set; } = null!;

    public async Task InitializeAsync() => Client = await RedisClient.ConnectAsync(Options);

    public async Task DisposeAsync() => await Client.DisposeAsync();

    /// <summary>A subscriber on <paramref name="channel"/> that copies every message's text into <paramref name="received"/>.</summary>
    protected async Task<RedisSubscriber> SubscribeAsync(string channel, Channel<string> received)
    {
        var subscriber = await RedisSubscriber.ConnectAsync(Options);
        await subscriber.SubscribeAsync(channel, m => { received.Writer.TryWrite(m.Text); });
        return subscriber;
    }

    protected static async Task WaitUntil(Func<Task<bool>> condition, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {seconds} s waiting for {what}.");
            await Task.Delay(20);
        }
    }
}
