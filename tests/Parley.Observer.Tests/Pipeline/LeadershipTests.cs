using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Parley.Observer.Hosting;
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

        Assert.Null(await queue.EnqueueAsync(term - 1, node.Identity.Instance, Name, [action], new CheckpointMove(ulong.MaxValue >> 1, null), 1, CancellationToken.None));
        Assert.Null(await queue.EnqueueAsync(term, "someone-else", Name, [action], new CheckpointMove(ulong.MaxValue >> 1, null), 1, CancellationToken.None));

        Assert.Empty(await Fx.QueueAsync(Name));
        Assert.False(await Fx.ScalarAsync<bool>("SELECT count(*) > 0 FROM observer_checkpoints WHERE observer = $1 AND lsn >= $2::pg_lsn", Name, "7FFFFFFF/0"));
    }

    /// <summary>This group's queue with no observer process: the test plays leader and workers itself.</summary>
    private ObserverDatabase Database(out ActionQueue queue)
    {
        var options = Options.Create(new ObserverOptions { Name = Name, ConnectionString = Fx.Stack.PrimaryConnectionString });
        var db = new ObserverDatabase(options, new ConfigurationBuilder().Build());
        queue = new ActionQueue(db, options);
        return db;
    }

    [Fact]
    public async Task Actions_due_at_once_are_claimed_by_their_insert_up_to_the_slots_offered_and_no_claim_takes_them_again()
    {
        await using var db = Database(out var queue);
        await Fx.ExecuteAsync("""
            INSERT INTO observer_leader (observer, term, holder, holder_pid, holder_host, acquired_at, renewed_at, expires_at)
            VALUES ($1, 7, 'leader-a', 1, 'h', clock_timestamp(), clock_timestamp(), clock_timestamp() + interval '1 hour')
            """, Name);
        await Fx.ExecuteAsync("INSERT INTO observer_endpoints (observer, url, disabled_at, reason) VALUES ($1, 'http://127.0.0.1:9/gone', clock_timestamp(), 'test')", Name);
        NewAction Action(string id, string? endpoint = null, TimeSpan? first = null) =>
            new(id, "items", "hook", "webhook", endpoint, "{}", "{}", [first ?? TimeSpan.Zero, TimeSpan.FromSeconds(5)], TimeSpan.FromSeconds(1));
        NewAction[] actions =
        [
            Action("00000000000000a1-0", endpoint: "http://127.0.0.1:9/gone"),   // disabled by a 410: waits
            Action("00000000000000a2-0", first: TimeSpan.FromMinutes(5)),       // first attempt delayed: waits
            Action("00000000000000a3-0"), Action("00000000000000a4-0"), Action("00000000000000a5-0"),
        ];

        var claimed = Assert.IsAssignableFrom<IReadOnlyList<ClaimedAction>>(await queue.EnqueueAsync(7, "leader-a", Name, actions, new CheckpointMove(0x1000, DateTimeOffset.UtcNow), 2, CancellationToken.None));
        var again = await queue.EnqueueAsync(7, "leader-a", Name, actions, null, 5, CancellationToken.None);

        Assert.Equal(["00000000000000a3-0", "00000000000000a4-0"], claimed.Select(c => c.EventId).Order());
        Assert.All(claimed, c => Assert.Equal((1, false), (c.Attempt, c.Reclaimed)));
        Assert.Empty(again!);   // repeats are dropped, not claimed a second time
        var rows = (await Fx.QueueAsync(Name)).ToDictionary(r => r.EventId, r => (r.Status, r.Attempts));
        Assert.Equal(("pending", 0), rows["00000000000000a1-0"]);
        Assert.Equal(("pending", 0), rows["00000000000000a2-0"]);
        Assert.Equal(("running", 1), rows["00000000000000a3-0"]);
        Assert.Equal(("pending", 0), rows["00000000000000a5-0"]);
        Assert.Equal("leader-a", await Fx.ScalarAsync<string>("SELECT claimed_by FROM observer_actions WHERE observer = $1 AND event_id = '00000000000000a4-0'", Name));
        Assert.Equal(claimed.Single(c => c.EventId == "00000000000000a4-0").ClaimToken,
            await Fx.ScalarAsync<Guid>("SELECT claim_token FROM observer_actions WHERE observer = $1 AND event_id = '00000000000000a4-0'", Name));
        Assert.True(await Fx.ScalarAsync<bool>("SELECT lsn = '0/1000'::pg_lsn FROM observer_checkpoints WHERE observer = $1", Name));
        // Only the one left pending and due is claimable; the claimed-at-insert ones are not taken again.
        Assert.Equal(["00000000000000a5-0"], (await queue.ClaimAsync("worker-b", 10, CancellationToken.None)).Select(c => c.EventId));
    }

    [Fact]
    public async Task A_worker_whose_claim_lapsed_and_was_taken_cannot_record_its_outcome()
    {
        await using var db = Database(out var queue);
        await Fx.ExecuteAsync("""
            INSERT INTO observer_actions (observer, event_id, rule, action, kind, event, spec, retry_ms, timeout_ms, status, due_at, term)
            VALUES ($1, '00000000000000aa-0', 'items', 'idx', 'index', '{}', '{}', '{0,0}', 1000, 'pending', clock_timestamp(), 1)
            """, Name);
        var first = Assert.Single(await queue.ClaimAsync("worker-a", 10, CancellationToken.None));
        // worker-a hangs past its claim; worker-b takes the action.
        await Fx.ExecuteAsync("UPDATE observer_actions SET due_at = clock_timestamp() - interval '1 second' WHERE observer = $1", Name);
        var second = Assert.Single(await queue.ClaimAsync("worker-b", 10, CancellationToken.None));
        Assert.Equal((true, 2, "worker-a"), (second.Reclaimed, second.Attempt, second.PreviousClaimer));

        var success = new Decision(RetryPolicy.Succeeded, TimeSpan.Zero);
        var late = await queue.CompleteBatchAsync([(first, new AttemptRecord(1, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), "succeeded", 200, null), success)], "worker-a", CancellationToken.None);
        Assert.Empty(late);
        Assert.Equal(("running", "worker-b"), (await Fx.ScalarAsync<string>("SELECT status FROM observer_actions WHERE observer = $1", Name),
            await Fx.ScalarAsync<string>("SELECT claimed_by FROM observer_actions WHERE observer = $1", Name)));

        var done = await queue.CompleteBatchAsync([(second, new AttemptRecord(2, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), "succeeded", 200, null), success)], "worker-b", CancellationToken.None);
        Assert.Equal([second.Id], done);
        Assert.Equal([(1, "lost"), (2, "succeeded")], (await Fx.AttemptsAsync(Name, "00000000000000aa-0", "items", "idx")).Select(a => (a.Attempt, a.Outcome)));
    }
}
