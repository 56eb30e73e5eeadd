using Parley.Kit.Chaos.Observer;
using Parley.Observer.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Parley.Observer.Tests.Failover;

/// <summary>
/// Leader failover with real observer processes (<c>parley observer run</c>) on the real stack, each reaching PostgreSQL
/// through a fault proxy of its own, rows inserted throughout and every webhook counted per <c>webhook-id</c> at a receiver
/// that verifies signatures (<see cref="ObserverDrill"/>). No timing is asserted: the takeover is awaited within the drill's
/// bound and its figure is printed (and compared with the lease-based bound by the chaos scenarios).
/// In the Chaos tier, not CI's: at load average 50–86 a paused leader's lost attempt was sent twice and the final
/// <c>/metrics</c> scrape timed out (issue 11); CI runs the two-observer leader kill of the chaos smoke set. Since both
/// were addressed (explained repeats accepted after a pause or partition, the scrape given 10 s and three tries): 3 of 3
/// at load average 16-25, then 8 of 9 over three runs at 11-38 with two CPU hogs beside them (the pause test failed once,
/// reason not captured), so they stay here until a repeat shows why.
/// </summary>
[Trait("Category", "Chaos")]
[Trait("Kind", "recovery")]
[Collection(ObserverCollection.Name)]
public sealed class FailoverTests(ObserverFixture fx, ITestOutputHelper output)
{
    private async Task<ObserverDrillResult> DrillAsync(ObserverFault fault)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var result = await ObserverDrill.RunAsync(fx.Stack, new ObserverDrillPlan { Fault = fault }, ct: timeout.Token);
        output.WriteLine(result.Describe());
        return result;
    }

    /// <summary>What every leader fault must leave: a new leader with a higher term, every row's webhook once, no write of the old term after the new one began.</summary>
    private static void AssertTakenOver(ObserverDrillResult r)
    {
        var report = r.Describe();
        Assert.True(r.FailoverSeconds is not null, report);
        Assert.NotEqual(r.LeaderBefore, r.LeaderAfter);
        Assert.True(r.TermAfter > r.TermBefore, report);
        Assert.True(r.Inserted > 0 && r.Lost.Count == 0, report);
        Assert.True(r.BadSignatures == 0, report);
        Assert.True(r.DeposedWrites == 0, report);
        Assert.True(r.LeaderMetric == 1 && r.FailoversMetric >= 1, report);
        Assert.True(r.RecoverySeconds is not null, $"the old leader did not come back as a standby\n{report}");
    }

    [Fact]
    public async Task When_the_leader_is_killed_a_standby_takes_over_and_every_webhook_arrives_once_unless_its_attempt_died_with_the_leader()
    {
        var r = await DrillAsync(ObserverFault.LeaderKill);
        AssertTakenOver(r);
        // A webhook the killed process sent but could not record is sent again (at-least-once across a crash): only those repeat.
        Assert.True(r.UnexplainedDuplicates == 0, r.Describe());
    }

    [Fact]
    public async Task When_the_leader_is_paused_a_standby_takes_over_and_the_old_leader_wakes_up_as_a_standby_without_writing()
    {
        var r = await DrillAsync(ObserverFault.LeaderPause);
        AssertTakenOver(r);
        // An attempt the paused process had sent lapses and is sent again by another (recorded lost): only those repeat.
        Assert.True(r.UnexplainedDuplicates == 0, r.Describe());
        Assert.True(r.DeposedNoticed, $"the woken leader did not log that its lease was gone\n{r.Describe()}");
    }

    [Fact]
    public async Task When_the_leader_is_cut_off_from_the_database_it_stands_by_before_a_standby_takes_over()
    {
        var r = await DrillAsync(ObserverFault.LeaderPartition);
        AssertTakenOver(r);
        Assert.True(r.UnexplainedDuplicates == 0, r.Describe());
        Assert.True(r.StoodDownBeforeTakeover == true, $"the cut-off leader still reported leading when another did\n{r.Describe()}");
        Assert.True(r.DeposedNoticed, r.Describe());
    }
}
