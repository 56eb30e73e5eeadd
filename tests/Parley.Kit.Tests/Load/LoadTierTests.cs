using Parley.Kit.Load;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Gates;
using Parley.Kit.Load.Scenarios;

namespace Parley.Kit.Tests.Load;

/// <summary>Longer runs (tens of seconds) for `./test.sh --tier Load`: the engine holds its plan under real load. Counts only, no latency.</summary>
[Trait("Category", "Load")]
public sealed class LoadTierTests(LoadServerFixture server) : IClassFixture<LoadServerFixture>
{
    private Task<Parley.Kit.Load.Reports.RunSummary> RunAsync(ILoadScenario scenario, LoadProfile profile) =>
        LoadRunner.RunAsync(scenario, new LoadRunSettings(server.BaseAddress.ToString(), profile, [Gate.Parse("lost==0")], "load tier"), CancellationToken.None);

    [Fact]
    public async Task An_open_model_ramp_sends_the_integral_of_its_rate()
    {
        var plan = StagePlan.Parse("10s:400,10s:400", start: 100);

        var run = await RunAsync(new MixedScenario(), new LoadProfile { Model = LoadModel.Open, Plan = plan, Connections = 256, WarmUp = TimeSpan.FromSeconds(3) });

        // 10 s ramping 100 → 400 (2,500) + 10 s at 400 (4,000); arrivals beyond the in-flight cap count as errors, never vanish.
        Assert.InRange(run.Requests, 6_300, 6_700);
        Assert.Equal(run.Requests, run.Ok + run.Expected + run.Errors);
    }

    [Fact]
    public async Task A_closed_model_holds_a_thousand_connections_through_a_spike()
    {
        var plan = StagePlan.Parse("5s:500,5s:1000,10s:1000,5s:500", start: 500);

        var run = await RunAsync(new HistoryScenario(), new LoadProfile
        {
            Model = LoadModel.Closed, Plan = plan, Pacing = TimeSpan.FromSeconds(2), WarmUp = TimeSpan.FromSeconds(2),
        });

        Assert.Equal(1000, run.Connections);
        Assert.True(run.Requests > 5_000, $"only {run.Requests} requests from up to 1,000 connections paced at 2 s");
        Assert.Contains(run.Timeline, point => point.Target >= 999);
    }
}
