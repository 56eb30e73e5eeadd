using Parley.Kit.Chaos.Observer;
using Parley.Kit.Chaos.Scenarios;
using Xunit.Abstractions;

namespace Parley.Chaos.Tests.Scenarios;

/// <summary>
/// The observer scenarios of <c>parley chaos</c> (seed 003's failover tests 1–5, E2E 4, and ISSUE 11's dependency faults) on
/// the real stack with real observer processes: each one's criteria (takeover within the lease-based bound and 10 s, detection)
/// and invariants (lost, duplicated per webhook-id, late, fencing) must hold.
/// </summary>
[Collection(ChaosCollection.Name)]
[Trait("Category", "Chaos")]
[Trait("Kind", "recovery")]
public sealed class ObserverScenarioTests(ChaosEnvironmentFixture fixture, ITestOutputHelper output)
{
    private Task RunAsync(string name) => RunAsync((ObserverScenario)ChaosCatalog.Find(name)!);

    private async Task RunAsync(ObserverScenario scenario)
    {
        var name = scenario.Name;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var result = await scenario.RunAsync(fixture.Env, timeout.Token);
        output.WriteLine(result.Describe());
        if (Environment.GetEnvironmentVariable("PARLEY_CHAOS_REPORTS") is { Length: > 0 } reports && Directory.Exists(reports))
            await File.WriteAllTextAsync(Path.Combine(reports, $"{DateTime.UtcNow:HHmmssfff}-{name}.txt"), result.Describe());
        Assert.True(result.Passed, result.Describe());
    }

    /// <summary>The CI smoke: two observers and no backlog, so it stays under a minute.</summary>
    [Fact, Trait("Tier", "Smoke")]
    public Task Leader_kill_of_two_observers_fails_over_and_loses_nothing() =>
        RunAsync(((ObserverScenario)ChaosCatalog.Find("observer-leader-kill")!).With(plan => plan with { Observers = 2, BatchBefore = 0 }));

    [Fact, Trait("Tier", "Full")]
    public Task Leader_kill_of_three_observers_with_a_backlog_fails_over_and_loses_nothing() => RunAsync("observer-leader-kill");

    [Fact, Trait("Tier", "Full")]
    public Task Standby_kill_leaves_the_leader_and_loses_nothing() => RunAsync("observer-standby-kill");

    [Fact, Trait("Tier", "Full")]
    public Task Database_outage_is_detected_waited_out_and_loses_nothing() => RunAsync("observer-db-outage");

    [Fact, Trait("Tier", "Full")]
    public Task Redis_outage_loses_and_doubles_nothing() => RunAsync("observer-redis-outage");

    [Fact, Trait("Tier", "Full")]
    public Task Partition_of_the_leader_stands_it_by_before_the_takeover() => RunAsync("observer-partition");

    [Fact, Trait("Tier", "Full")]
    public Task Leader_pause_fails_over_and_the_woken_leader_writes_nothing() => RunAsync("observer-leader-pause");

    [Fact, Trait("Tier", "Full")]
    public Task Slow_endpoint_opens_its_breaker_and_leaves_the_other_on_time() => RunAsync("observer-slow-endpoint");

    [Fact, Trait("Tier", "Full")]
    public Task Worker_kill_reclaims_its_actions_and_does_each_once() => RunAsync("observer-worker-kill");

    [Fact, Trait("Tier", "Full")]
    public Task E2e4_two_thousand_events_across_a_leader_kill_each_arrive_once() => RunAsync("observer-e2e4");

    [Fact, Trait("Tier", "Smoke")]
    public void Every_observer_scenario_is_in_the_catalog_once() =>
        Assert.Equal(ObserverScenario.All.Select(s => s.Name), ChaosCatalog.All.Select(s => s.Name).Where(n => n.StartsWith("observer-", StringComparison.Ordinal)));
}
