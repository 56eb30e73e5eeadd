using System.Text;

namespace Parley.Redis.Tests;

[Trait("Category", "Integration")]
public sealed class RedisClientTests(RedisServerFixture server) : IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private RedisClient _client = null!;

    public async Task InitializeAsync() => _client = await RedisClient.ConnectAsync(server.Options("client"));

    public async Task DisposeAsync() => await _client.DisposeAsync();

    [Fact]
    public async Task Set_then_get_round_trips_text_and_bytes()
    {
        var key = _client.Key("greeting");
        Assert.True(await _client.SetAsync(key, "héllo"));
        Assert.Equal("héllo", await _client.GetStringAsync(key));

        var binary = new byte[] { 0, 13, 10, 255 };
        await _client.SetAsync(key, binary);
        Assert.Equal(binary, await _client.GetAsync(key));
        Assert.Null(await _client.GetAsync(_client.Key("missing")));
        Assert.True(_client.IsConnected);
        Assert.True(await _client.PingAsync() < TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Set_with_nx_and_ttl_behaves_like_redis()
    {
        var key = _client.Key("lock");
        Assert.True(await _client.SetAsync(key, "a", TimeSpan.FromSeconds(30), onlyIfNotExists: true));
        Assert.False(await _client.SetAsync(key, "b", onlyIfNotExists: true));
        Assert.Equal("a", await _client.GetStringAsync(key));
        Assert.InRange((await _client.TtlAsync(key))!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.True(await _client.ExpireAsync(key, TimeSpan.FromSeconds(100)));
        Assert.True(await _client.ExistsAsync(key));
        Assert.True(await _client.DelAsync(key));
        Assert.False(await _client.ExistsAsync(key));
        Assert.False(await _client.ExpireAsync(key, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Incr_counts_and_execute_accepts_every_argument_type()
    {
        var key = _client.Key("counter");
        Assert.Equal(1, await _client.IncrAsync(key));
        Assert.Equal(11, await _client.IncrAsync(key, 10));
        var reply = await _client.ExecuteAsync("INCRBY", [key, 5]);
        Assert.Equal(16, reply.AsInt64());
        reply = await _client.ExecuteAsync("INCRBY", [Encoding.UTF8.GetBytes(key), 4L]);
        Assert.Equal(20, reply.AsInt64());
        reply = await _client.ExecuteAsync("GET", [new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(key))]);
        Assert.Equal("20", reply.AsString());
    }

    [Fact]
    public async Task Error_replies_become_server_exceptions_with_their_prefix()
    {
        var key = _client.Key("list");
        await _client.ExecuteAsync("LPUSH", [key, "x"]);
        var error = await Assert.ThrowsAsync<RedisServerException>(() => _client.GetAsync(key));
        Assert.Equal("WRONGTYPE", error.Prefix);
        Assert.Equal("PONG", (await _client.ExecuteAsync("PING")).AsString());
    }

    [Fact]
    public async Task Ten_thousand_concurrent_commands_each_get_their_own_reply()
    {
        var tasks = Enumerable.Range(0, 10_000)
            .Select(i => Task.Run(async () =>
            {
                var key = _client.Key($"p:{i}");
                await _client.SetAsync(key, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return (i, await _client.GetStringAsync(key));
            }))
            .ToArray();
        foreach (var (i, value) in await Task.WhenAll(tasks))
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), value);
        }

        var counter = _client.Key("order");
        var increments = Enumerable.Range(0, 10_000).Select(_ => _client.IncrAsync(counter)).ToArray();
        var results = await Task.WhenAll(increments);
        Assert.Equal(Enumerable.Range(1, 10_000).Select(i => (long)i), results);
    }

    [Fact]
    public async Task A_timed_out_command_keeps_its_slot_and_later_replies_stay_in_step()
    {
        var key = _client.Key("after-timeout");
        await _client.SetAsync(key, "right");

        // BLPOP holds the connection for 300 ms on the server, then answers nil.
        var slow = _client.ExecuteAsync("BLPOP", [_client.Key("empty"), "0.3"], TimeSpan.FromMilliseconds(50));
        var queued = _client.GetStringAsync(key);
        await Assert.ThrowsAsync<RedisTimeoutException>(() => slow);
        Assert.Equal("right", await queued);
        Assert.Equal("right", await _client.GetStringAsync(key));
        Assert.True(_client.IsConnected);
    }

    [Fact]
    public async Task A_cancelled_command_keeps_its_slot_and_later_replies_stay_in_step()
    {
        var key = _client.Key("after-cancel");
        await _client.SetAsync(key, "v");
        using var cts = new CancellationTokenSource();
        var slow = _client.ExecuteAsync("BLPOP", [_client.Key("empty2"), "0.3"], cancellationToken: cts.Token);
        var queued = _client.GetStringAsync(key);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
        Assert.Equal("v", await queued);
    }

    [Fact]
    public async Task Scan_visits_every_matching_key()
    {
        var keys = Enumerable.Range(0, 250).Select(i => _client.Key($"scan:{i}")).ToHashSet();
        await Task.WhenAll(keys.Select(k => _client.SetAsync(k, "1")));
        var seen = new HashSet<string>();
        await foreach (var key in _client.ScanAsync(_client.Key("scan:*"), pageSize: 50))
        {
            seen.Add(key);
        }

        Assert.Equal(keys, seen);
        Assert.Equal(250, await _client.DelAsync([.. keys]));
    }

    [Fact]
    public async Task Lua_scripts_fall_back_to_eval_after_script_flush()
    {
        var script = new LuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        var key = _client.Key("lua");
        Assert.Equal(script.Sha1, await _client.ScriptLoadAsync(script));
        Assert.Equal(2, (await _client.EvalAsync(script, [key], [2])).AsInt64());

        await _client.ExecuteAsync("SCRIPT", ["FLUSH"]);
        var noScript = await Assert.ThrowsAsync<RedisServerException>(() => _client.ExecuteAsync("EVALSHA", [script.Sha1, 0]));
        Assert.Equal("NOSCRIPT", noScript.Prefix);

        Assert.Equal(5, (await _client.EvalAsync(script, [key], ["3"])).AsInt64());
        var exists = await _client.ExecuteAsync("SCRIPT", ["EXISTS", script.Sha1]);
        Assert.Equal(1, exists.Items[0].AsInt64());
    }

    [Fact]
    public async Task Blocking_reads_are_refused_on_the_shared_connection()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            _client.XReadGroupAsync(_client.Key("s"), "g", "c", block: TimeSpan.FromSeconds(1)));
        Assert.Contains("CreateDedicatedAsync", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connecting_to_a_closed_port_fails_with_an_actionable_message()
    {
        var options = new RedisOptions { Endpoint = "127.0.0.1:1" };
        var error = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(options));
        Assert.Contains("127.0.0.1:1", error.Message, StringComparison.Ordinal);
    }
}
