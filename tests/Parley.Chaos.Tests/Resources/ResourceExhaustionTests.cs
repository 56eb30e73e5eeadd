using System.Net.Sockets;
using Npgsql;
using Parley.Chaos.Tests.Scenarios;
using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Traffic;

namespace Parley.Chaos.Tests.Resources;

/// <summary>
/// Resource exhaustion (seed 004, resource; issue 15 item 6) on the shared chaos stack: PostgreSQL at max_connections, Redis at
/// maxmemory, the server process at its file-descriptor limit. Each answers 201 or 503 + Retry-After meanwhile (never 500, never
/// a hang), loses no 201, half-writes nothing and recovers by itself once the resource is back. The full disk is in
/// <see cref="DiskFullTests"/> (a stack of its own).
/// </summary>
[Collection(ChaosCollection.Name)]
[Trait("Category", "Chaos")]
[Trait("Tier", "Smoke")]
[Trait("Kind", "resource")]
public sealed class ResourceExhaustionTests(ChaosEnvironmentFixture fixture)
{
    [Fact]
    public async Task Postgres_at_max_connections_answers_503_with_retry_after_and_recovers_when_they_close()
    {
        await using var run = await Exhaustion.StartAsync(fixture.Env, $"maxconn-{Random.Shared.Next(100_000)}");
        Assert.Equal(201, await run.SendAsync());
        var held = new List<NpgsqlConnection>();
        try
        {
            // Every slot taken by this test; the node's own backends are ended and their slots taken too (bounded rounds).
            var mine = new HashSet<int>();
            for (var round = 0; round < 10; round++)
            {
                await FillAsync(fixture.Env.Stack.PrimaryConnectionString, held, mine);
                await using var others = new NpgsqlCommand(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> ALL($1)", held[0]);
                others.Parameters.AddWithValue(mine.ToArray());
                if ((long)(await others.ExecuteScalarAsync())! == 0) break;
                await Task.Delay(200); // the ended backends' slots come free once they exit
            }
            Assert.True(held.Count > 100, $"only {held.Count} connections held");

            var before = run.Ledger.Requests.Count;
            var statuses = new List<int>();
            for (var i = 0; i < 10; i++) statuses.Add(await run.SendAsync());
            Exhaustion.AssertOnly201Or503(run.Ledger.Requests.Skip(before), $"max_connections ({held.Count} held)");
            Assert.Contains(503, statuses);
            await run.AssertReadyReportsAsync("primary", "Unhealthy");
        }
        finally
        {
            foreach (var connection in held) await connection.DisposeAsync();
        }
        await run.AssertRecoversAsync("the connections");
        await run.AssertWholeAsync(TimeSpan.FromSeconds(10));
    }

    // Opens unpooled connections until the server refuses one with too_many_connections (at most 1,000).
    private static async Task FillAsync(string connectionString, List<NpgsqlConnection> held, HashSet<int> mine)
    {
        var raw = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 10, ApplicationName = "resource-test" }.ConnectionString;
        while (held.Count < 1000)
        {
            var connection = new NpgsqlConnection(raw);
            try
            {
                await connection.OpenAsync();
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.TooManyConnections)
            {
                await connection.DisposeAsync();
                return;
            }
            held.Add(connection);
            mine.Add(connection.ProcessID);
        }
    }

    [Fact]
    public async Task Redis_at_maxmemory_keeps_sends_durable_says_degraded_and_deliveries_resume_when_memory_is_freed()
    {
        var env = fixture.Env;
        var redis = env.Stack.RedisEndpoint!;
        var id = $"maxmem-{Random.Shared.Next(100_000)}";
        // A stream of its own, so the full Redis and the refused events touch no other test's.
        await using var run = await Exhaustion.StartAsync(env, id, new Dictionary<string, string?> { ["Parley:Delivery:StreamKey"] = $"events-{id}" });
        await using var listener = new ChaosListener(run.Api, [run.Node.BaseAddress], run.Member, "L0");
        await listener.Live.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(201, await run.SendAsync());

        var port = redis[(redis.LastIndexOf(':') + 1)..];
        Task<string> Cli(params string[] args) => Exhaustion.RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", port, .. args]);
        async Task<long> UsedAsync() => long.Parse((await Cli("INFO", "memory")).Split('\n')
            .First(l => l.StartsWith("used_memory:", StringComparison.Ordinal))["used_memory:".Length..].Trim());
        var limit = (await Cli("CONFIG", "GET", "maxmemory")).Split('\n')[1].Trim();
        var filler = $"resource-test:{id}:";
        var keys = 0;
        try
        {
            await Cli("CONFIG", "SET", "maxmemory", (await UsedAsync() + 4_000_000).ToString());
            var value = new string('x', 100_000);
            string reply;
            do reply = await RedisCommand.SendAsync(redis, ["SET", filler + keys++, value], TimeSpan.FromSeconds(5));
            while (reply.StartsWith('+') && keys < 200);
            Assert.StartsWith("-OOM", reply);
            // The refused SET's own 100 KB query buffer counted until its connection closed, leaving room for small writes again:
            // the limit goes 1 MB under what the data now takes, so Redis stays full until the filler is deleted.
            await Cli("CONFIG", "SET", "maxmemory", (await UsedAsync() - 1_000_000).ToString());
            Assert.StartsWith("-OOM", await RedisCommand.SendAsync(redis, ["SET", filler + keys++, "x"], TimeSpan.FromSeconds(5)));
            await run.AssertReadyReportsAsync("redis", "Degraded");

            var before = run.Ledger.Requests.Count;
            for (var i = 0; i < 10; i++) await run.SendAsync();
            Exhaustion.AssertOnly201Or503(run.Ledger.Requests.Skip(before), "Redis at maxmemory");
        }
        finally
        {
            for (var i = 0; i < keys; i++) await RedisCommand.SendAsync(redis, ["DEL", filler + i], TimeSpan.FromSeconds(5));
            await Cli("CONFIG", "SET", "maxmemory", limit);
        }
        await run.AssertReadyReportsAsync("redis", "Healthy");
        await run.AssertRecoversAsync("Redis memory");
        // Every 201 reaches the listener: the events refused while Redis was full are published once it takes writes again.
        await run.AssertWholeAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Server_at_its_file_descriptor_limit_refuses_or_answers_503_never_crashes_and_recovers_when_they_close()
    {
        const int limit = 1024;
        await using var run = await Exhaustion.StartAsync(fixture.Env, $"nofile-{Random.Shared.Next(100_000)}", openFileLimit: limit);
        Assert.Equal(201, await run.SendAsync());
        var pid = run.Node.Pid!.Value;
        var sockets = new List<Socket>();
        try
        {
            // Idle connections the node accepts and holds, up to twice its limit (each connect is bounded).
            for (var i = 0; i < 2 * limit; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await socket.ConnectAsync(run.Node.BaseAddress.Host, run.Node.BaseAddress.Port, timeout.Token);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    break;
                }
            }
            await Task.Delay(2000); // let the node accept what it will

            using var fresh = new ChaosApi(run.Ledger, [run.Node.BaseAddress], TimeSpan.FromSeconds(10));
            var before = run.Ledger.Requests.Count;
            for (var i = 0; i < 5; i++)
            {
                await run.SendAsync();
                await fresh.CallAsync("fresh:ready", null, HttpMethod.Get, "/health/ready");
            }
            var during = run.Ledger.Requests.Skip(before).ToList();
            Assert.True(run.Node.IsRunning, $"the node died at its descriptor limit:\n{run.Node.Log()}");
            // Refused (no HTTP answer, at once) is allowed for a new connection; a hang or a 500 never is.
            var bad = during.Where(o => o.TimedOut || o.Status >= 500 && !(o.Status == 503 && o.RetryAfter)).ToList();
            Assert.True(bad.Count == 0, $"{Exhaustion.Statuses(during)}; at the descriptor limit ({Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length} open): {Exhaustion.Statuses(bad)}");
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }
        Assert.True(run.Node.IsRunning, run.Node.Log());
        await run.AssertRecoversAsync("the descriptors");
        // The connections over the limit are counted, not logged one by one.
        Assert.True(await run.Api.MetricAsync("kestrel_rejected_connections_total", 0) > 0, "no rejected connection was counted");
        Assert.DoesNotContain("maximum number of concurrent connections", run.Node.Log());
        using (var fresh = new ChaosApi(run.Ledger, [run.Node.BaseAddress]))
            Assert.Equal(200, (await fresh.CallAsync("fresh:ready", null, HttpMethod.Get, "/health/ready")).Status);
        await run.AssertWholeAsync(TimeSpan.FromSeconds(10));
    }
}
