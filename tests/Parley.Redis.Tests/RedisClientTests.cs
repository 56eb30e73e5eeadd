using System.Text;

namespace Parley.Redis.Tests;

[Trait("Category", "Integration")]
public sealed class RedisClientTests(RedisServerFixture server) : RedisServerTest(server)
{
    [Fact]
    public async Task Set_then_get_round_trips_text_and_bytes()
    {
        var key = Client.Key("greeting");
        Assert.True(await Client.SetAsync(key, "héllo"));
        Assert.Equal("héllo", await Client.GetStringAsync(key));

        var binary = new byte[] { 0, 13, 10, 255 };
        await Client.SetAsync(key, binary);
        Assert.Equal(binary, await Client.GetAsync(key));
        Assert.Null(await Client.GetAsync(Client.Key("missing")));
        Assert.True(Client.IsConnected);
        Assert.True(await Client.PingAsync() < TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Set_with_nx_and_ttl_behaves_like_redis()
    {
        var key = Client.Key("lock");
        Assert.True(await Client.SetAsync(key, "a", TimeSpan.FromSeconds(30), onlyIfNotExists: true));
        Assert.False(await Client.SetAsync(key, "b", onlyIfNotExists: true));
        Assert.Equal("a", await Client.GetStringAsync(key));
        Assert.InRange((await Client.TtlAsync(key))!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.True(await Client.ExpireAsync(key, TimeSpan.FromSeconds(100)));
        Assert.True(await Client.ExistsAsync(key));
        Assert.True(await Client.DelAsync(key));
        Assert.False(await Client.ExistsAsync(key));
        Assert.False(await Client.ExpireAsync(key, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Values_larger_than_the_read_buffer_round_trip_while_other_commands_pipeline()
    {
        var big = new byte[5 * 1024 * 1024];
        Random.Shared.NextBytes(big);
        var key = Client.Key("big");
        await Client.SetAsync(key, big);
        var reads = Enumerable.Range(0, 4).Select(_ => Client.GetAsync(key)).ToArray();
        var pings = Enumerable.Range(0, 100).Select(_ => Client.PingAsync()).ToArray();
        foreach (var read in await Task.WhenAll(reads))
        {
            Assert.Equal(big, read);
        }

        await Task.WhenAll(pings);
    }

    [Fact]
    public async Task Incr_counts_and_execute_accepts_every_argument_type()
    {
        var key = Client.Key("counter");
        Assert.Equal(1, await Client.IncrAsync(key));
        Assert.Equal(11, await Client.IncrAsync(key, 10));
        var reply = await Client.ExecuteAsync("INCRBY", [key, 5]);
        Assert.Equal(16, reply.AsInt64());
        reply = await Client.ExecuteAsync("INCRBY", [Encoding.UTF8.GetBytes(key), 4L]);
        Assert.Equal(20, reply.AsInt64());
        reply = await Client.ExecuteAsync("GET", [new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(key))]);
        Assert.Equal("20", reply.AsString());
    }

    [Fact]
    public async Task Error_replies_become_server_exceptions_with_their_prefix()
    {
        var key = Client.Key("list");
        await Client.ExecuteAsync("LPUSH", [key, "x"]);
        var error = await Assert.ThrowsAsync<RedisServerException>(() => Client.GetAsync(key));
        Assert.Equal("WRONGTYPE", error.Prefix);
        Assert.Equal("PONG", (await Client.ExecuteAsync("PING")).AsString());
    }

    [Fact]
    public async Task Ten_thousand_concurrent_commands_each_get_their_own_reply()
    {
        var tasks = Enumerable.Range(0, 10_000)
            .Select(i => Task.Run(async () =>
            {
                var key = Client.Key($"p:{i}");
                await Client.SetAsync(key, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return (i, await Client.GetStringAsync(key));
            }))
            .ToArray();
        foreach (var (i, value) in await Task.WhenAll(tasks))
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), value);
        }

        var counter = Client.Key("order");
        var increments = Enumerable.Range(0, 10_000).Select(_ => Client.IncrAsync(counter)).ToArray();
        var results = await Task.WhenAll(increments);
        Assert.Equal(Enumerable.Range(1, 10_000).Select(i => (long)i), results);
    }

    [Fact]
    public async Task A_timed_out_command_keeps_its_slot_and_later_replies_stay_in_step()
    {
        var key = Client.Key("after-timeout");
        await Client.SetAsync(key, "right");

        // BLPOP holds the connection for 300 ms on the server, then answers nil.
        var slow = Client.ExecuteAsync("BLPOP", [Client.Key("empty"), "0.3"], TimeSpan.FromMilliseconds(50));
        var queued = Client.GetStringAsync(key);
        await Assert.ThrowsAsync<RedisTimeoutException>(() => slow);
        Assert.Equal("right", await queued);
        Assert.Equal("right", await Client.GetStringAsync(key));
        Assert.True(Client.IsConnected);
    }

    [Fact]
    public async Task A_cancelled_command_keeps_its_slot_and_later_replies_stay_in_step()
    {
        var key = Client.Key("after-cancel");
        await Client.SetAsync(key, "v");
        using var cts = new CancellationTokenSource();
        var slow = Client.ExecuteAsync("BLPOP", [Client.Key("empty2"), "0.3"], cancellationToken: cts.Token);
        var queued = Client.GetStringAsync(key);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
        Assert.Equal("v", await queued);
    }

    [Fact]
    public async Task Scan_visits_every_matching_key()
    {
        var keys = Enumerable.Range(0, 250).Select(i => Client.Key($"scan:{i}")).ToHashSet();
        await Task.WhenAll(keys.Select(k => Client.SetAsync(k, "1")));
        var seen = new HashSet<string>();
        await foreach (var key in Client.ScanAsync(Client.Key("scan:*"), pageSize: 50))
        {
            seen.Add(key);
        }

        Assert.Equal(keys, seen);
        Assert.Equal(250, await Client.DelAsync([.. keys]));
    }

    [Fact]
    public async Task Lua_scripts_fall_back_to_eval_after_script_flush()
    {
        var script = new LuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        var key = Client.Key("lua");
        Assert.Equal(script.Sha1, await Client.ScriptLoadAsync(script));
        Assert.Equal(2, (await Client.EvalAsync(script, [key], [2])).AsInt64());

        await Client.ExecuteAsync("SCRIPT", ["FLUSH"]);
        var noScript = await Assert.ThrowsAsync<RedisServerException>(() => Client.ExecuteAsync("EVALSHA", [script.Sha1, 0]));
        Assert.Equal("NOSCRIPT", noScript.Prefix);

        Assert.Equal(5, (await Client.EvalAsync(script, [key], ["3"])).AsInt64());
        var exists = await Client.ExecuteAsync("SCRIPT", ["EXISTS", script.Sha1]);
        Assert.Equal(1, exists.Items[0].AsInt64());
    }

    [Fact]
    public async Task Blocking_reads_are_refused_on_the_shared_connection()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Client.XReadGroupAsync(Client.Key("s"), "g", "c", block: TimeSpan.FromSeconds(1)));
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
