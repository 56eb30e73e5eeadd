using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Parley.Redis.Tests;

/// <summary>
/// Sentinel discovery against real servers: a primary, its replica and one Sentinel (redis-server processes of this
/// test on free loopback ports). The client and the subscriber find the primary through the Sentinel, and after
/// <c>SENTINEL failover</c> they follow the promoted replica by themselves: the old primary, demoted, has its clients
/// killed by the Sentinel (and would answer writes READONLY), and each reconnection asks the Sentinel again.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RedisSentinelTests : IAsyncLifetime
{
    private const string Name = "parley-primary";
    private readonly string _dir = Directory.CreateTempSubdirectory("parley-sentinel-").FullName;
    private readonly List<Process> _servers = [];
    private int _primaryPort, _replicaPort, _sentinelPort;

    public async Task InitializeAsync()
    {
        (_primaryPort, _replicaPort, _sentinelPort) = (FreePort(), FreePort(), FreePort());
        Start("primary", "--port", $"{_primaryPort}");
        Start("replica", "--port", $"{_replicaPort}", "--replicaof", "127.0.0.1", $"{_primaryPort}");
        var config = Path.Combine(_dir, "sentinel.conf");
        await File.WriteAllTextAsync(config, $"""
            port {_sentinelPort}
            bind 127.0.0.1
            dir {_dir}
            sentinel monitor {Name} 127.0.0.1 {_primaryPort} 1
            sentinel down-after-milliseconds {Name} 1000
            sentinel failover-timeout {Name} 10000
            """);
        _servers.Add(Process.Start(new ProcessStartInfo("redis-server", [config, "--sentinel"]) { RedirectStandardOutput = true, UseShellExecute = false })!);
        _servers[^1].BeginOutputReadLine();
        // The Sentinel answers for the primary, and knows its replica, before a test fails over.
        await UntilAsync(async () => (await SentinelAsync("replicas", Name)).Items.Count == 1, "the Sentinel to see the replica");
    }

    public Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            try { server.Kill(entireProcessTree: true); server.WaitForExit(5_000); } catch (InvalidOperationException) { }
            server.Dispose();
        }
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private void Start(string name, params string[] args)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
        var info = new ProcessStartInfo("redis-server", [.. args, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir])
        { RedirectStandardOutput = true, UseShellExecute = false };
        var process = Process.Start(info)!;
        process.BeginOutputReadLine();
        _servers.Add(process);
    }

    private RedisOptions Options() => new()
    {
        Sentinels = [$"127.0.0.1:{_sentinelPort}"],
        SentinelPrimary = Name,
        ReconnectMaxBackoff = TimeSpan.FromMilliseconds(500),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        CommandTimeout = TimeSpan.FromSeconds(5),
    };

    private async Task<RespValue> SentinelAsync(params string[] args)
    {
        await using var sentinel = await RedisClient.ConnectAsync(new RedisOptions { Endpoint = $"127.0.0.1:{_sentinelPort}", ConnectTimeout = TimeSpan.FromSeconds(5) });
        return await sentinel.ExecuteAsync("SENTINEL", [.. args]);
    }

    private static async Task<long> PortOf(RedisClient client) =>
        long.Parse((await client.ExecuteAsync("CONFIG", ["GET", "port"])).Items[1].AsString()!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Polls <paramref name="condition"/> (errors count as not yet) every 200 ms for at most 60 s.</summary>
    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                if (await condition()) return;
            }
            catch (RedisException)
            {
                // not yet
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"waited 60 s for {what}");
    }

    [Fact]
    public async Task Client_and_subscriber_find_the_primary_through_the_Sentinel_and_follow_a_failover()
    {
        await using var client = await RedisClient.ConnectAsync(Options());
        await using var subscriber = await RedisSubscriber.ConnectAsync(Options());
        var heard = Channel.CreateUnbounded<string>();
        await subscriber.SubscribeAsync("parley-news", m => { heard.Writer.TryWrite(System.Text.Encoding.UTF8.GetString(m.Payload.Span)); });
        Assert.Equal(_primaryPort, await PortOf(client));
        await client.SetAsync("written-before", "1");
        await UntilAsync(async () => (await client.ExecuteAsync("WAIT", [1, 1000])).AsInt64() == 1, "the replica to have the write");

        await SentinelAsync("failover", Name);

        // The client ends on the promoted replica, by itself, and reads what was written on the old primary.
        await UntilAsync(async () => await PortOf(client) == _replicaPort && (await client.ExecuteAsync("ROLE")).Items[0].AsString() == "master",
            "the client to reach the promoted replica");
        Assert.Equal("1", await client.GetStringAsync("written-before"));
        await client.SetAsync("written-after", "2");
        Assert.Equal("2", await client.GetStringAsync("written-after"));
        // The subscriber resubscribed on the new primary: a message published there arrives.
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string? got = null;
        while (got is null)
        {
            await client.PublishAsync("parley-news", "after failover");
            try
            {
                using var once = CancellationTokenSource.CreateLinkedTokenSource(wait.Token);
                once.CancelAfter(TimeSpan.FromMilliseconds(500));
                got = await heard.Reader.ReadAsync(once.Token);
            }
            catch (OperationCanceledException) when (!wait.IsCancellationRequested)
            {
                // not resubscribed yet
            }
        }
        Assert.Equal("after failover", got);
    }

    [Fact]
    public async Task An_ACL_user_and_password_authenticate_the_client_and_the_subscriber()
    {
        await using (var admin = await RedisClient.ConnectAsync(new RedisOptions { Endpoint = $"127.0.0.1:{_primaryPort}" }))
            await admin.ExecuteAsync("ACL", ["SETUSER", "parley", "on", ">s3cret", "~*", "&*", "+@all"]);
        var options = Options();
        (options.User, options.Password) = ("parley", "s3cret");
        await using var client = await RedisClient.ConnectAsync(options);
        Assert.Equal("parley", (await client.ExecuteAsync("ACL", ["WHOAMI"])).AsString());
        // The subscriber's AUTH reply is its own, not taken for a push (it used to wait out its timeout).
        await using var subscriber = await RedisSubscriber.ConnectAsync(options);
        var heard = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscriber.SubscribeAsync("acl-news", m => { heard.TrySetResult(System.Text.Encoding.UTF8.GetString(m.Payload.Span)); });
        await client.PublishAsync("acl-news", "hello");
        Assert.Equal("hello", await heard.Task.WaitAsync(TimeSpan.FromSeconds(30)));

        options.Password = "wrong";
        var refused = await Assert.ThrowsAnyAsync<RedisException>(() => RedisClient.ConnectAsync(options));
        Assert.Contains("WRONGPASS", refused.Message);
    }

    [Fact]
    public async Task A_Sentinel_that_does_not_know_the_name_is_a_clear_connection_error()
    {
        var options = Options();
        options.SentinelPrimary = "no-such-primary";
        var error = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(options));
        Assert.Contains("does not know 'no-such-primary'", error.Message);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
