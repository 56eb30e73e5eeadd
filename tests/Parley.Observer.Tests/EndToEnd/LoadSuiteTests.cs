using Parley.Kit.Load.Observer;
using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.EndToEnd;

/// <summary>
/// The suites' load run (bench/observer-suites.sh) at a size a Load-tier run affords: three observers sharing the action
/// queue, rows from pgbench (a process of its own, -R), the same-run pgbench reference; delivery is asserted exactly
/// (every row once, every signature good), speed is not (the figures go to bench/results).
/// </summary>
[Trait("Category", "Load")]
[Collection(ObserverCollection.Name)]
public sealed class LoadSuiteTests(ObserverFixture fx, Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Three_listeners_fed_by_pgbench_deliver_every_row_once_and_report_their_resources_and_stages()
    {
        var nodes = new List<ObserverNode>();
        var options = new ObserverLoadOptions { Rate = 300, Duration = TimeSpan.FromSeconds(10), Listeners = 3, Inserter = Inserter.Pgbench, Reference = TimeSpan.FromSeconds(2), Drain = TimeSpan.FromSeconds(120) };

        var result = await ObserverLoad.RunAsync(fx.Stack.PrimaryConnectionString, async (name, rules, listeners, ct) =>
        {
            for (var n = 0; n < listeners; n++) nodes.Add(await fx.StartAsync(name, rules, runner: null, waitForStreaming: n == 0));
            return new LoadRunTests.Nodes(nodes);
        }, options, null, CancellationToken.None);

        foreach (var line in result.Lines()) output.WriteLine(line);
        Assert.True(result.Inserted > 0);
        Assert.Equal((result.Inserted, 0L, 0L, 0L), (result.Delivered, result.Lost, result.Duplicated, result.BadSignatures));
        Assert.True(result.ReferenceInsertsPerSecond > 0);
        Assert.True(result.Resources is { Samples: > 0, RssStartMb: > 0, ConnectionsMax: > 0 });
        // Every event went through the leader's enqueue and an attempt in one of the three processes.
        Assert.Equal(result.Inserted + 1, result.Stages.Single(s => s.Stage == "run").Count);
        Assert.Contains(result.Stages, s => s.Stage == "enqueue" && s.Count > 0);
    }
}
