using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Parley.Kit.Stack;
using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Tests.Stack;

/// <summary>Each test starts its own stack, breaks or stops it, and checks nothing is left behind.</summary>
[Trait("Category", "Integration")]
public sealed class StackLifecycleTests
{
    [Fact]
    public async Task Killed_replica_and_redis_come_back_on_the_same_port_with_their_data()
    {
        await using var stack = await LocalStack.StartAsync(new StackOptions { WithPgBouncer = false });
        var replica = stack.Replica!;
        var redis = stack.Redis!;
        var (replicaPort, redisPort) = (replica.Port, redis.Port);

        await replica.KillAsync();
        await redis.KillAsync();

        Assert.Equal(StackComponentState.Stopped, replica.State);
        Assert.Null(replica.Pid);
        Assert.False(await StackProbes.IsListeningAsync(replicaPort));
        Assert.False(await StackProbes.IsListeningAsync(redisPort));
        Assert.Equal(StackComponentState.Stopped, LocalStack.ReadState(stack.RootDirectory)!.Components.Single(c => c.Name == "replica").State);

        var table = $"after_restart_{Guid.NewGuid():N}";
        await StackProbes.ScalarAsync(stack.PrimaryConnectionString, $"CREATE TABLE {table} (id int); INSERT INTO {table} VALUES (7)");
        await replica.StartAsync();
        await redis.StartAsync();

        Assert.Equal((replicaPort, redisPort), (replica.Port, redis.Port));
        Assert.Equal(StackComponentState.Running, replica.State);
        Assert.NotNull(replica.Pid);
        Assert.Equal("+PONG", await StackProbes.PingRedisAsync(stack.RedisEndpoint!));
        await StackProbes.EventuallyAsync(
            async () => await StackProbes.ScalarAsync(stack.ReplicaConnectionString!, $"SELECT to_regclass('{table}') IS NOT NULL") is true,
            $"{table}, written while the replica was down, reaches it");
    }

    [Fact]
    public async Task Prometheus_scrapes_targets_set_after_it_started_and_stops_with_the_stack()
    {
        var stack = await LocalStack.StartAsync(new StackOptions
        {
            WithPrimary = false, WithReplica = false, WithPgBouncer = false, WithRedis = false,
            WithPrometheus = true, PrometheusScrapeInterval = TimeSpan.FromSeconds(1),
        });
        StackState state;
        using var target = new HttpListener();
        var port = FreePort();
        target.Prefixes.Add($"http://127.0.0.1:{port}/");
        target.Start();
        var serving = Task.Run(async () =>
        {
            while (target.IsListening)
            {
                HttpListenerContext context;
                try { context = await target.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                var body = "# TYPE stack_test_value gauge\nstack_test_value 42\n"u8.ToArray();
                context.Response.ContentType = "text/plain; version=0.0.4";
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
        });
        await using (stack)
        {
            stack.SetPrometheusTargets([new Uri($"http://127.0.0.1:{port}")]);
            using var http = new HttpClient { BaseAddress = stack.PrometheusUrl, Timeout = TimeSpan.FromSeconds(10) };
            await StackProbes.EventuallyAsync(
                async () => (await http.GetStringAsync("/api/v1/query?query=stack_test_value")).Contains("\"42\"", StringComparison.Ordinal),
                "Prometheus has scraped the target given after its start");
            Assert.Throws<ArgumentException>(() => stack.SetPrometheusTargets([new Uri("http://192.0.2.1:80")]));
            state = stack.Describe();
        }
        target.Stop();
        await serving;
        await StackProbes.AssertGoneAsync(state);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Fact]
    public async Task A_server_that_exited_by_itself_is_started_again()
    {
        await using var stack = await LocalStack.StartAsync(new StackOptions { WithPrimary = false, WithReplica = false, WithPgBouncer = false });
        var redis = stack.Redis!;
        using (var process = Process.GetProcessById(redis.Pid!.Value)) process.Kill(); // not through the stack: it still says Running
        await StackProbes.EventuallyAsync(() => Task.FromResult(!redis.IsAlive), "redis is gone");
        Assert.Equal(StackComponentState.Running, redis.State);

        await redis.StartAsync();

        Assert.True(redis.IsAlive);
        Assert.Equal("+PONG", await StackProbes.PingRedisAsync(stack.RedisEndpoint!));
    }

    [Fact]
    public async Task A_supervised_stack_starts_a_server_that_exited_by_itself_again_but_not_one_it_stopped()
    {
        await using var stack = await LocalStack.StartAsync(new StackOptions { WithPrimary = false, WithReplica = false, WithPgBouncer = false, WithSmtp = true, Supervise = true });
        var (redis, smtp) = (stack.Redis!, stack.Smtp!);
        var killed = redis.Pid!.Value;
        await smtp.KillAsync(); // through the stack: stopped on purpose
        using (var process = Process.GetProcessById(killed)) process.Kill();

        await StackProbes.EventuallyAsync(
            () => Task.FromResult(LocalStack.ReadState(stack.RootDirectory)!.Components.Single(c => c.Name == "redis").Pid is { } pid && pid != killed),
            "the supervisor starts redis again");
        Assert.Equal("+PONG", await StackProbes.PingRedisAsync(stack.RedisEndpoint!));
        Assert.Equal(StackComponentState.Stopped, LocalStack.ReadState(stack.RootDirectory)!.Components.Single(c => c.Name == "smtp").State);
        Assert.False(await StackProbes.IsListeningAsync(smtp.Port));
    }

    [Fact]
    public async Task The_supervisor_restarts_nothing_while_another_operation_holds_the_stack()
    {
        await using var stack = await LocalStack.StartAsync(new StackOptions { WithPrimary = false, WithReplica = false, WithPgBouncer = false, Supervise = true });
        var redis = stack.Redis!;
        int? RecordedPid() => LocalStack.ReadState(stack.RootDirectory)!.Components.Single(c => c.Name == "redis").Pid;
        var killed = redis.Pid!.Value;
        using (StackOperationLock.TryAcquire(stack.RootDirectory) ?? throw new InvalidOperationException("the lock is taken"))
        {
            using (var process = Process.GetProcessById(killed)) process.Kill();
            await Task.Delay(TimeSpan.FromSeconds(4)); // four supervisor rounds
            Assert.Equal(killed, RecordedPid());
            Assert.False(await StackProbes.IsListeningAsync(redis.Port));
        }
        await StackProbes.EventuallyAsync(() => Task.FromResult(RecordedPid() is { } pid && pid != killed), "redis is started again once the lock is free");
        Assert.Equal("+PONG", await StackProbes.PingRedisAsync(stack.RedisEndpoint!));
    }

    [Fact]
    public async Task Restart_on_a_taken_port_fails_with_the_component_log_tail()
    {
        await using var stack = await LocalStack.StartAsync(new StackOptions { WithPrimary = false, WithReplica = false, WithPgBouncer = false });
        var redis = stack.Redis!;
        await redis.KillAsync();
        using var squatter = new TcpListener(IPAddress.Loopback, redis.Port);
        squatter.Start();

        var error = await Assert.ThrowsAsync<StackStartException>(() => redis.StartAsync());

        Assert.Equal("redis", error.Component);
        Assert.Contains($"127.0.0.1:{redis.Port} is taken by another process", error.Message, StringComparison.Ordinal);
        Assert.Contains("Address already in use", error.Message, StringComparison.Ordinal);
        Assert.Equal(StackComponentState.Stopped, redis.State);
    }

    [Fact]
    public async Task StopAsync_leaves_no_process_port_or_directory_behind()
    {
        var stack = await LocalStack.StartAsync(new StackOptions());
        var state = stack.Describe();
        Assert.Equal("sh", File.ReadAllText($"/proc/{state.WatchdogPid}/comm").Trim());

        await stack.StopAsync();
        await stack.StopAsync();

        await StackProbes.AssertGoneAsync(state);
        Assert.All(stack.Components, c => Assert.Equal(StackComponentState.Stopped, c.State));
        Assert.False(Directory.Exists(stack.RootDirectory), "the temporary root was not deleted");
    }

    [Fact]
    public async Task StopFromStateAsync_stops_a_stack_it_only_knows_from_stack_json()
    {
        var root = Directory.CreateTempSubdirectory("parley-kit-test-").FullName;
        try
        {
            await using var stack = await LocalStack.StartAsync(new StackOptions { RootDirectory = root });
            var state = LocalStack.ReadState(root);
            Assert.NotNull(state);

            await LocalStack.StopFromStateAsync(root);

            await StackProbes.AssertGoneAsync(state);
            Assert.Null(LocalStack.ReadState(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Death_of_the_owner_process_tears_the_stack_down()
    {
        var root = Directory.CreateTempSubdirectory("parley-kit-test-").FullName;
        using var owner = Process.Start("sleep", "1000");
        try
        {
            await using var stack = await LocalStack.StartAsync(new StackOptions { RootDirectory = root, OwnerPid = owner.Id });
            var state = stack.Describe();

            owner.Kill();

            await StackProbes.AssertGoneAsync(state);
            Assert.Null(LocalStack.ReadState(root));
        }
        finally
        {
            owner.Kill();
            Directory.Delete(root, recursive: true);
        }
    }
}
