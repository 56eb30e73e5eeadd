using Npgsql;
using Parley.Chaos.Tests.Scenarios;
using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Chaos.Proxy;
using Parley.Kit.Chaos.Traffic;

namespace Parley.Chaos.Tests.Traffic;

/// <summary>The chaos listener behaves as API.md asks of a client: resumes with since, and on resync.required catches up over REST.</summary>
[Collection(ChaosCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ChaosListenerTests(ChaosEnvironmentFixture fixture)
{
    [Fact]
    public async Task A_listener_told_to_resync_catches_up_over_rest_and_misses_nothing()
    {
        var env = fixture.Env;
        var id = $"listener-{Random.Shared.Next(100_000)}";
        // A stream of its own, so trimming it below touches no other test's events.
        var stream = $"events-{id}";
        await using var node = await env.StartNodeAsync(id, env.NodeSettings(id, overrides: new Dictionary<string, string?> { ["Parley:Delivery:StreamKey"] = stream }));
        var ledger = new ChaosLedger();
        using var api = new ChaosApi(ledger, [node.BaseAddress]);
        var owner = await api.NewUserAsync("lo");
        var member = await api.NewUserAsync("lm");
        var conversation = await api.CreateConversationAsync(owner, [member]);
        // The listener reaches the node through a proxy this test can take down.
        await using var front = FaultProxy.Start("listener-front", node.BaseAddress.Port);
        await using var listener = new ChaosListener(api, [new Uri($"http://{front.Endpoint}")], member, "L0");
        await listener.Live.WaitAsync(TimeSpan.FromSeconds(20));

        for (var i = 0; i < 2; i++) Assert.Equal(201, await api.SendAsync(owner, conversation, $"before-{i}"));
        await Until(() => Task.FromResult(ledger.Deliveries.Count >= 2), "live deliveries");

        front.SetDown(true);
        for (var i = 0; i < 3; i++) Assert.Equal(201, await api.SendAsync(owner, conversation, $"missed-{i}"));
        // Once the dispatcher has published them, trim the node's stream so the listener's `since` is beyond retention.
        await using (var db = NpgsqlDataSource.Create(env.Stack.PrimaryConnectionString))
        {
            await using var pending = db.CreateCommand("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL AND conversation_id = $1");
            pending.Parameters.AddWithValue(conversation);
            await Until(async () => (long)(await pending.ExecuteScalarAsync())! == 0, "dispatch");
        }
        Assert.StartsWith(":", await RedisCommand.SendAsync(env.Stack.RedisEndpoint!, ["XTRIM", $"parley:{stream}", "MAXLEN", "0"], TimeSpan.FromSeconds(5)));
        front.SetDown(false);

        await Until(() => Task.FromResult(listener.Resyncs >= 1 && ledger.Deliveries.Count >= 5), "resync and catch-up");
        var report = await InvariantChecker.CheckAsync(ledger, env.Stack.PrimaryConnectionString, (c, ct) => api.ReadAllAsync(owner, c, ct), TimeSpan.FromSeconds(10));
        Assert.True(report.Passed, report.Describe());
        Assert.Equal(5, report.Acknowledged);
        Assert.Equal(3, ledger.Deliveries.Count(d => d.EventId == "rest"));
    }

    /// <summary>Polls every 100 ms for at most 30 s.</summary>
    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        for (var i = 0; i < 300; i++)
        {
            if (await condition()) return;
            await Task.Delay(100);
        }
        Assert.Fail($"timed out waiting for {what}");
    }
}
