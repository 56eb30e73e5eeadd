using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Chaos.Scenarios;

namespace Parley.Chaos.Tests.Scenarios;

/// <summary>The recovery gate without a stack: a probe that never passes fails the run with its own message, never "0 s".</summary>
[Trait("Category", "Smoke")]
public sealed class RecoveryGateTests
{
    /// <summary>The CI smoke scenarios whose recovery is probed (breaker closes, cache back, Redis back).</summary>
    public static TheoryData<string> ProbedScenarios => new() { "replica-lag", "cache-failure", "replica-partition", "redis-partition" };

    private sealed class NoFault : IFault
    {
        public string Description => "none";
        public Task InjectAsync(CancellationToken ct = default) => Task.CompletedTask;
        public Task RemoveAsync(CancellationToken ct = default) => Task.CompletedTask;
    }

    private static ScenarioResult Judge(string name, double? probeRecoveredAt)
    {
        var scenario = (FaultedScenario)ChaosCatalog.Find(name)!;
        var measured = FaultedRun.Measure(scenario, new NoFault(), new ChaosLedger(), injectedAt: 0, detectedAt: 500, removedAt: 6000, probeRecoveredAt, new InvariantReport(), []);
        return measured with { Criteria = scenario.Judge(measured).ToList() };
    }

    [Fact]
    public async Task A_probe_that_never_passes_gives_no_recovery_time_once_its_bound_is_over()
    {
        var ledger = new ChaosLedger();
        var recoveredAt = await FaultedRun.AwaitRecoveryAsync(() => Task.FromResult(false), TimeSpan.FromMilliseconds(300), ledger, CancellationToken.None);
        Assert.Null(recoveredAt);
    }

    [Fact]
    public async Task A_probe_that_passes_gives_the_time_it_first_passed()
    {
        var ledger = new ChaosLedger();
        var calls = 0;
        var recoveredAt = await FaultedRun.AwaitRecoveryAsync(() => Task.FromResult(++calls == 3), TimeSpan.FromSeconds(30), ledger, CancellationToken.None);
        Assert.NotNull(recoveredAt);
        Assert.Equal(3, calls);
    }

    [Theory]
    [MemberData(nameof(ProbedScenarios))]
    public void A_scenario_whose_recovery_probe_never_passed_fails_as_never_recovered(string name)
    {
        var result = Judge(name, probeRecoveredAt: null);
        Assert.Null(result.RecoverySeconds);
        Assert.False(result.Passed, result.Describe());
        Assert.Contains("[FAIL] never recovered within 30 s of the fault's removal", result.Describe());
        Assert.Contains(result.Criteria, c => c.Measured == "never" && !c.Passed);
    }

    [Theory]
    [MemberData(nameof(ProbedScenarios))]
    public void A_scenario_whose_probe_passed_two_seconds_after_removal_recovered_in_two_seconds(string name)
    {
        var result = Judge(name, probeRecoveredAt: 8000);
        Assert.Equal(2, result.RecoverySeconds);
        Assert.DoesNotContain("never recovered", result.Describe());
        Assert.Contains(result.Criteria, c => c.Measured == "2 s" && c.Passed); // the recovery criterion
    }
}
