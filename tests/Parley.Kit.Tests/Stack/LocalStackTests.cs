using Parley.Kit.Stack;

namespace Parley.Kit.Tests.Stack;

[Trait("Category", "Integration")]
public sealed class LocalStackTests(FullStackFixture fixture) : IClassFixture<FullStackFixture>
{
    private LocalStack Stack => fixture.Stack;

    [Fact]
    public async Task Full_stack_starts_with_every_component_running()
    {
        Assert.Equal(
            [StackComponentKind.Primary, StackComponentKind.Replica, StackComponentKind.PgBouncer, StackComponentKind.Redis],
            Stack.Components.Select(c => c.Kind));
        foreach (var component in Stack.Components)
        {
            Assert.Equal(StackComponentState.Running, component.State);
            Assert.NotNull(component.Pid);
            Assert.True(await StackProbes.IsListeningAsync(component.Port), $"{component.Name} does not listen on {component.Port}");
        }
        Assert.Equal($"Host=127.0.0.1;Port={Stack.Primary.Port};Username=parley;Database=parley", Stack.PrimaryConnectionString);
        Assert.Equal("parley", await StackProbes.ScalarAsync(Stack.PrimaryConnectionString, "SELECT current_database()"));
    }

    [Fact]
    public async Task Row_written_on_the_primary_becomes_visible_on_the_replica()
    {
        var table = $"replicated_{Guid.NewGuid():N}";
        await StackProbes.ScalarAsync(Stack.PrimaryConnectionString, $"CREATE TABLE {table} (id int); INSERT INTO {table} VALUES (42)");

        await StackProbes.EventuallyAsync(
            async () => await StackProbes.ScalarAsync(Stack.ReplicaConnectionString!, $"SELECT to_regclass('{table}') IS NOT NULL") is true,
            $"{table} reaches the replica");
        Assert.Equal(42, await StackProbes.ScalarAsync(Stack.ReplicaConnectionString!, $"SELECT id FROM {table}"));
        Assert.Equal(true, await StackProbes.ScalarAsync(Stack.ReplicaConnectionString!, "SELECT pg_is_in_recovery()"));
    }

    [Fact]
    public async Task PgBouncer_forwards_queries_in_transaction_pooling_mode()
    {
        Assert.Contains("No Reset On Close=true", Stack.PgBouncerConnectionString, StringComparison.Ordinal);
        Assert.Equal(Stack.Primary.Port, await StackProbes.ScalarAsync(Stack.PgBouncerConnectionString!, "SELECT current_setting('port')::int"));

        // PgBouncer's admin console speaks only the simple query protocol, which Npgsql does not use; psql does.
        var pools = await StackProbes.PsqlAsync(Stack.PgBouncer!.Port, "pgbouncer", "SHOW CONFIG");
        Assert.Contains("pool_mode|transaction", pools, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redis_answers_ping()
    {
        Assert.Equal($"127.0.0.1:{Stack.Redis!.Port}", Stack.RedisEndpoint);
        Assert.Equal("+PONG", await StackProbes.PingRedisAsync(Stack.RedisEndpoint!));
    }

    [Fact]
    public void State_file_matches_the_running_stack()
    {
        var state = LocalStack.ReadState(Stack.RootDirectory);

        Assert.NotNull(state);
        Assert.Equal(Stack.Describe().Components, state.Components);
        Assert.Equal(Stack.PgBouncerConnectionString, state.PgBouncerConnectionString);
        Assert.Contains("\"kind\": \"pgBouncer\"", File.ReadAllText(Path.Combine(Stack.RootDirectory, "stack.json")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Second_stack_in_a_running_stacks_root_is_refused()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => LocalStack.StartAsync(new StackOptions { RootDirectory = Stack.RootDirectory }));

        Assert.Contains("parley down", error.Message, StringComparison.Ordinal);
    }
}
