using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Scenarios;
using Xunit.Abstractions;

namespace Parley.Chaos.Tests.Scenarios;

/// <summary>Each scenario of <c>parley chaos</c> against the real stack: its SLO.md criteria and the invariants must hold.</summary>
[Collection(ChaosCollection.Name)]
[Trait("Category", "Chaos")]
public sealed class ScenarioTests(ChaosEnvironmentFixture fixture, ITestOutputHelper output)
{
    private async Task<ScenarioResult> RunAsync(ChaosScenario scenario)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var result = await scenario.RunAsync(fixture.Env, timeout.Token);
        output.WriteLine(result.Describe());
        // test.sh prints these after the run: the figures of passing scenarios are on record too.
        if (Environment.GetEnvironmentVariable("PARLEY_CHAOS_REPORTS") is { Length: > 0 } reports && Directory.Exists(reports))
            await File.WriteAllTextAsync(Path.Combine(reports, $"{DateTime.UtcNow:HHmmssfff}-{scenario.Name}.txt"), result.Describe());
        return result;
    }

    private async Task RunAsync(string name)
    {
        var result = await RunAsync(ChaosCatalog.Find(name)!);
        Assert.True(result.Passed, result.Describe());
    }

    /// <summary>Injects, never removes: the scenario's own removal is skipped (the stack is healed after the run).</summary>
    private sealed class NeverRemoved(IFault fault) : IFault
    {
        public string Description => $"{fault.Description} (never removed)";
        public Task InjectAsync(CancellationToken ct = default) => fault.InjectAsync(ct);
        public Task RemoveAsync(CancellationToken ct = default) => Task.CompletedTask;
    }

    [Fact, Trait("Tier", "Smoke"), Trait("Kind", "recovery")]
    public async Task Replica_lag_that_is_never_removed_fails_as_never_recovered()
    {
        var scenario = ((FaultedScenario)ChaosCatalog.Find("replica-lag")!).With(
            plan => plan with { ListsPerSecond = 0, ReadsPerSecond = 10, SendsPerSecond = 5, FaultDuration = TimeSpan.FromSeconds(4), Recovery = TimeSpan.FromSeconds(1), RecoveryBound = TimeSpan.FromSeconds(4) },
            fault => new NeverRemoved(fault));
        var result = await RunAsync(scenario);
        Assert.False(result.Passed, result.Describe());
        Assert.Null(result.RecoverySeconds);
        Assert.Contains("[FAIL] never recovered within 4 s of the fault's removal", result.Describe());
    }

    [Fact, Trait("Tier", "Smoke"), Trait("Kind", "recovery")]
    public Task Replica_lag_opens_the_breaker_and_every_read_succeeds() => RunAsync("replica-lag");

    [Fact, Trait("Tier", "Smoke"), Trait("Kind", "recovery")]
    public Task Cache_failure_serves_from_the_database_and_caching_resumes() => RunAsync("cache-failure");

    [Fact, Trait("Tier", "Smoke"), Trait("Kind", "resource")]
    public Task Pool_exhaustion_answers_every_request_without_hanging() => RunAsync("pool-exhaustion");

    [Fact, Trait("Tier", "Smoke"), Trait("Kind", "recovery")]
    public Task Replica_partition_falls_back_within_one_connect_timeout() => RunAsync("replica-partition");

    [Fact, Trait("Tier", "Full"), Trait("Kind", "load")]
    public Task Slow_query_storm_leaves_fast_queries_fast() => RunAsync("slow-query-storm");

    [Fact, Trait("Tier", "Smoke"), Trait("Kind", "recovery")]
    public Task Redis_partition_loses_no_message_and_recovers_by_itself() => RunAsync("redis-partition");

    [Fact, Trait("Tier", "Full"), Trait("Kind", "recovery")]
    public Task Consumer_kill_loses_no_message() => RunAsync("consumer-kill");

    /// <summary>Issue 16: SIGKILL of one of three nodes behind HAProxy; every request and socket through the balancer.</summary>
    [Fact, Trait("Tier", "Full"), Trait("Kind", "recovery")]
    public Task Node_kill_behind_the_balancer_loses_no_201_and_every_socket_is_back_within_5_s() => RunAsync("node-kill-balanced");

    /// <summary>Issue 15 item 7: the primary SIGKILLed under sends and sockets, the replica promoted; no 201 lost with synchronous replication.</summary>
    [Fact, Trait("Tier", "Smoke"), Trait("Kind", "recovery")]
    public Task Primary_loss_with_synchronous_replication_loses_no_201_and_the_nodes_follow_the_promoted_replica() => RunAsync("primary-loss");

    [Fact, Trait("Tier", "Full"), Trait("Kind", "resource")]
    public Task Db_pool_breaker_answers_503_fast_and_recovers() => RunAsync("db-pool-breaker");

    [Fact, Trait("Tier", "Full"), Trait("Kind", "recovery")]
    public Task Cascading_failure_answers_503_and_recovers_after_both_return() => RunAsync("cascading-failure");

    [Fact, Trait("Tier", "Full"), Trait("Kind", "migration")]
    public Task Migration_under_load_causes_no_errors() => RunAsync("migration-under-load");

    [Fact, Trait("Tier", "Full"), Trait("Kind", "load")]
    public Task Reconnect_churn_misses_nothing() => RunAsync("reconnect-churn");
}
