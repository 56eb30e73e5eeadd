using Microsoft.Extensions.DependencyInjection;
using Parley.Observer.Queue;
using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.Pipeline;

/// <summary>One leader per group, a standby taking over, and a deposed leader's writes refused.</summary>
[Collection(ObserverCollection.Name)]
[Trait("Category", "Integration")]
public sealed class LeadershipTests(ObserverFixture fx) : IAsyncLifetime
{
    private readonly string _name = ObserverFixture.NewName();
    private readonly TestRunner _runner = new();

    private string Table => $"items_{_name}";

    private string Rules => $$"""
        rules:
          - name: items
            source: table:public.{{Table}}
            actions:
              - name: idx
                index: { name: items, text: "x" }
        """;

    public Task InitializeAsync() => fx.ExecuteAsync($"CREATE TABLE {Table} (id serial PRIMARY KEY)");

    public async Task DisposeAsync()
    {
        await fx.DropGroupAsync(_name);
        await fx.ExecuteAsync($"DROP TABLE {Table}");
    }

    [Fact]
    public async Task Of_two_processes_one_leads_and_when_it_stops_the_standby_takes_over_and_goes_on_from_the_checkpoint()
    {
        var first = await fx.StartAsync(_name, Rules, _runner);
        await using var second = await fx.StartAsync(_name, Rules, _runner, waitForStreaming: false);
        await Wait.For(async () => (await second.HealthAsync())["role"]!.GetValue<string>() == "standby", "the second process to stand by");
        await fx.ExecuteAsync($"INSERT INTO {Table} DEFAULT VALUES");
        await Wait.For(() => _runner.Calls.Count >= 1, "the first event's action");
        Assert.Equal("standby", second.Identity.Role);

        await first.DisposeAsync();
        await Wait.For(() => second.Identity.Streaming, "the standby to lead and read the slot");
        await fx.ExecuteAsync($"INSERT INTO {Table} DEFAULT VALUES");
        await Wait.For(() => _runner.Calls.Count >= 2, "the second event's action");

        Assert.Equal(2, await fx.ScalarAsync<long>("SELECT term FROM observer_leader WHERE observer = $1", _name));
        Assert.Equal(second.Identity.Instance, await fx.ScalarAsync<string>("SELECT holder FROM observer_leader WHERE observer = $1", _name));
        Assert.Equal(2, _runner.Calls.Select(c => c.WebhookId).Distinct().Count());
        Assert.Contains("observer_failovers_total 1", await second.Http.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task A_deposed_leader_can_neither_enqueue_nor_move_the_checkpoint()
    {
        await using var node = await fx.StartAsync(_name, Rules, _runner);
        var queue = node.App.Services.GetRequiredService<ActionQueue>();
        var term = node.Identity.Term!.Value;
        var action = new NewAction("00000000000000ff-0", "items", "idx", "index", null, "{}", "{\"kind\":\"index\",\"name\":\"items\",\"text\":\"x\"}", [TimeSpan.Zero], TimeSpan.FromSeconds(1));

        Assert.False(await queue.EnqueueAsync(term - 1, node.Identity.Instance, _name, [action], new CheckpointMove(ulong.MaxValue >> 1, null), CancellationToken.None));
        Assert.False(await queue.EnqueueAsync(term, "someone-else", _name, [action], new CheckpointMove(ulong.MaxValue >> 1, null), CancellationToken.None));

        Assert.Empty(await fx.QueueAsync(_name));
        Assert.False(await fx.ScalarAsync<bool>("SELECT count(*) > 0 FROM observer_checkpoints WHERE observer = $1 AND lsn >= $2::pg_lsn", _name, "7FFFFFFF/0"));
    }
}
