using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Chaos.Scenarios;

namespace Parley.Chaos.Tests.Scenarios;

/// <summary>The p95 criterion: SLO.md's target on a quiet machine, "the fault at most doubles p95" on a busy one.</summary>
[Trait("Category", "Smoke")]
public sealed class LatencyCriterionTests
{
    private static ScenarioResult Result(double before, double during) => new()
    {
        Scenario = "s", Description = "d", Fault = "f", P95BeforeFaultMs = before, P95DuringFaultMs = during,
        Invariants = new InvariantReport(),
    };

    [Theory]
    [InlineData(10, 99, true)]    // quiet machine: the target itself
    [InlineData(10, 101, false)]
    [InlineData(40, 101, false)]  // pre-fault p95 under half the target: still the target
    [InlineData(90, 179, true)]   // busy machine: at most twice the pre-fault p95
    [InlineData(90, 181, false)]
    [InlineData(0, 100, true)]    // no pre-fault data: the target
    public void Passes_within_the_target_or_twice_a_slow_pre_fault_p95(double before, double during, bool passes)
    {
        var criterion = ChaosCatalog.P95DuringFault("p95", Result(before, during), 100);
        Assert.Equal(passes, criterion.Passed);
        Assert.Contains($"pre-fault {before:0.#} ms", criterion.Measured);
    }
}
