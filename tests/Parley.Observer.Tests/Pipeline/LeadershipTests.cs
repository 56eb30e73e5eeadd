using Microsoft.Extensions.DependencyInjection;
using Parley.Observer.Queue;
using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.Pipeline;

/// <summary>One leader per group, a standby taking over, and a deposed leader's writes refused.</summary>
[Trait("Category", "Integration")]
[Collection(ObserverCollection.Name)]
public sealed class LeadershipTests(ObserverFixture fx) : ObserverTest(fx, "items", "id serial PRIMARY KEY")
{

    private string Rules => $$"""
        rules:
          - name: items
            source: table:public.{{Table}}
            actions:
              - name: idx
                index: { name: items, text: "x" }
        """;

    [Fact]
    public async Task Of_two_processes_one_leads_and_when_it_stops_the_standby_takes_over_and_goes_on_from_the_checkpoint()
    {
        // A long lease: a process starved of CPU on a loaded machine must not lose its lead mid-test.
        var lease = new Dictionary<string, string?> { ["Parley:Observer:LeaseDuration"] = "00:00:15" };
        var first = await Fx.StartAsync(Name, Rules, Runner, lease);
        await using var second = await Fx.StartAsync(Name, Rules, Runner, lease, waitForStreaming: false);
        await Wait.For(async () => (await second.HealthAsync())["role"]!.GetValue<string>() == "standby", "the second process to stand by");
        await Fx.ExecuteAsync($"INSERT INTO {Table} DEFAULT VALUES");
        await Wait.For(() => Runner.Calls.Count >= 1, "the first event's action");
        Assert.Equal("standby", second.Identity.Role);

        await first.DisposeAsync();
        await Wait.For(() => second.Identity.Streaming, "the standby to lead and read the slot");
        await Fx.ExecuteAsync($"INSERT INTO {Table} DEFAULT VALUES");
        await Wait.For(() => Runner.Calls.Count >= 2, "the second event's action");

        Assert.Equal(2, await Fx.ScalarAsync<long>("SELECT term FROM observer_leader WHERE observer = $1", Name));
        Assert.Equal(second.Identity.Instance, await Fx.ScalarAsync<string>("SELECT holder FROM observer_leader WHERE observer = $1", Name));
        Assert.Equal(2, Runner.Calls.Select(c => c.WebhookId).Distinct().Count());
        Assert.Contains("observer_failovers_total 1", await second.Http.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task A_deposed_leader_can_neither_enqueue_nor_move_the_checkpoint()
    {
        await using var node = await Fx.StartAsync(Name, Rules, Runner);
        var queue = node.App.Services.GetRequiredService<ActionQueue>();
        var term = node.Identity.Term!.Value;
        var action = new NewAction("00000000000000ff-0", "items", "idx", "index", null, "{}", "{\"kind\":\"index\",\"name\":\"items\",\"text\":\"x\"}", [TimeSpan.Zero], TimeSpan.FromSeconds(1));

        Assert.False(await queue.EnqueueAsync(term - 1, node.Identity.Instance, Name, [action], new CheckpointMove(ulong.MaxValue >> 1, null), CancellationToken.None));
        Assert.False(await queue.EnqueueAsync(term, "someone-else", Name, [action], new CheckpointMove(ulong.MaxValue >> 1, null), CancellationToken.None));

        Assert.Empty(await Fx.QueueAsync(Name));
        Assert.False(await Fx.ScalarAsync<bool>("SELECT count(*) > 0 FROM observer_checkpoints WHERE observer = $1 AND lsn >= $2::pg_lsn", Name, "7FFFFFFF/0"));
    }
}
