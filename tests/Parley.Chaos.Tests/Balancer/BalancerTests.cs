using System.Net;
using Parley.Chaos.Tests.Scenarios;
using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Chaos.Traffic;
using Parley.Kit.Stack;

namespace Parley.Chaos.Tests.Balancer;

/// <summary>
/// The stack's balancer (Debian's HAProxy, as <c>parley up</c> runs it) in front of two real node processes: requests and a
/// WebSocket go through its one port; a stopped node is taken out and the other answers; with no node to take them it answers
/// 503 + Retry-After in problem+json, as a node answers a dependency outage.
/// </summary>
[Collection(ChaosCollection.Name)]
[Trait("Category", "Integration")]
public sealed class BalancerTests(ChaosEnvironmentFixture fixture)
{
    // Checks run every second and two decide; the bound is for a machine loaded many times over.
    private static readonly TimeSpan CheckBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Two_nodes_behind_the_balancer_serve_requests_and_a_websocket_and_a_stopped_node_is_taken_out()
    {
        var env = fixture.Env;
        var id = $"balanced-{Random.Shared.Next(100_000)}";
        await using var first = await env.StartNodeAsync($"{id}-1", env.NodeSettings($"{id}-1"));
        await using var second = await env.StartNodeAsync($"{id}-2", env.NodeSettings($"{id}-2"));
        await env.Stack.StartBalancerAsync([new BalancedNode("node-1", first.BaseAddress.Port), new BalancedNode("node-2", second.BaseAddress.Port)]);
        try
        {
            var balancer = env.Stack.BalancerRuntime!;
            await balancer.WaitUntilCheckedAsync(CheckBound);
            var ledger = new ChaosLedger();
            using var api = new ChaosApi(ledger, [env.Stack.BalancerUrl!]);
            var owner = await api.NewUserAsync("bo");
            var member = await api.NewUserAsync("bm");
            var conversation = await api.CreateConversationAsync(owner, [member]);
            await using var listener = new ChaosListener(api, [env.Stack.BalancerUrl!], member, "L0");
            await listener.Live.WaitAsync(TimeSpan.FromSeconds(20));
            for (var i = 0; i < 6; i++)
                Assert.Equal(201, await api.SendAsync(owner, conversation, $"both-{i}"));
            await Until(() => Task.FromResult(ledger.Deliveries.Count >= 6), "deliveries over the balanced WebSocket");
            Assert.Equal(2, (await balancer.NodesAsync()).Count(n => n.Serving));

            await first.StopAsync();
            await Until(async () => (await balancer.NodesAsync()).Single(n => n.Name == "node-1") is { Serving: false }, "node-1 taken out");
            for (var i = 0; i < 6; i++)
            {
                Assert.Equal(201, await api.SendAsync(owner, conversation, $"one-{i}"));
                Assert.Equal(200, await api.HistoryAsync(member, conversation));
            }
            // The listener may have been on node-1: it comes back through the balancer, to node-2, and misses nothing.
            await Until(() => Task.FromResult(ledger.Deliveries.Select(d => d.MessageId).Distinct().Count() >= 12), "deliveries after node-1 stopped");
            var report = await InvariantChecker.CheckAsync(ledger, env.Stack.PrimaryConnectionString, (c, ct) => api.ReadAllAsync(owner, c, ct), TimeSpan.FromSeconds(10));
            Assert.True(report.Passed, report.Describe());
            Assert.Equal(12, report.Acknowledged);

            // Drained, node-2 takes nothing new either: the balancer itself answers, as the API says a dependency outage is answered.
            await balancer.DrainAsync("node-2");
            using (var http = new HttpClient { BaseAddress = env.Stack.BalancerUrl })
            using (var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative)))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.NotNull(response.Headers.RetryAfter);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
            await balancer.ReadyAsync("node-2");
            await first.StartAsync();
            await balancer.WaitUntilCheckedAsync(CheckBound);
            Assert.Equal(200, await api.HistoryAsync(member, conversation));
        }
        finally
        {
            await env.Stack.StopBalancerAsync();
        }
        Assert.Null(env.Stack.Balancer);
    }

    /// <summary>Polls every 100 ms for at most 30 s (a node's checks run every second; two decide).</summary>
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
