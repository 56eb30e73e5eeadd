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

    public virtual async Task DisposeAsync() => await Client.DisposeAsync();

    /// <summary>A subscriber on <paramref name="channel"/> that copies every message's text into <paramref name="received"/>.</summary>
    protected async Task<RedisSubscriber> SubscribeAsync(string channel, Channel<string> received)
    {
        var subscriber = await RedisSubscriber.ConnectAsync(Options);
        await subscriber.SubscribeAsync(channel, m => { received.Writer.TryWrite(m.Text); });
        return subscriber;
    }

    /// <summary>Waits until the server holds at least <paramref name="count"/> blocked clients (INFO clients): a blocking command is in place.</summary>
    protected async Task WaitForBlockedClientsAsync(int count = 1)
    {
        await using var probe = await RedisClient.ConnectAsync(Server.Options());
        await WaitUntil(async () =>
        {
            var info = (await probe.ExecuteAsync("INFO", ["clients"])).AsString() ?? "";
            var line = info.Split("\r\n").First(l => l.StartsWith("blocked_clients:", StringComparison.Ordinal));
            return int.Parse(line["blocked_clients:".Length..], System.Globalization.CultureInfo.InvariantCulture) >= count;
        }, $"{count} blocked client(s) on the server");
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
