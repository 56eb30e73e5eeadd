using Parley.Kit.Load.Observer;
using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.EndToEnd;

/// <summary><c>parley load observer</c>'s run on the real stack, small: counts only, no timing.</summary>
[Trait("Category", "Integration")]
[Collection(ObserverCollection.Name)]
public sealed class LoadRunTests(ObserverFixture fx)
{
    [Fact]
    public async Task A_small_load_run_through_two_observers_delivers_every_row_once_with_a_good_signature_and_leaves_nothing_behind()
    {
        string? group = null;
        var nodes = new List<ObserverNode>();
        var options = new ObserverLoadOptions { Rate = 50, Duration = TimeSpan.FromSeconds(2), Listeners = 2, Connections = 2, EventBytes = 64, Reference = TimeSpan.FromSeconds(1), Warmup = TimeSpan.FromSeconds(1) };

        var result = await ObserverLoad.RunAsync(fx.Stack.PrimaryConnectionString, async (name, rules, listeners, ct) =>
        {
            group = name;
            for (var n = 0; n < listeners; n++) nodes.Add(await fx.StartAsync(name, rules, runner: null, waitForStreaming: n == 0));
            return new Nodes(nodes);
        }, options, null, CancellationToken.None);

        Assert.Equal(2, nodes.Count);
        Assert.Equal((100L, 100L, 0L, 0L, 0L), (result.Inserted, result.Delivered, result.Lost, result.Duplicated, result.BadSignatures));
        Assert.True(result.Passed);
        Assert.Equal(100, result.Latency.Count);
        Assert.True(result.ReferenceInsertsPerSecond > 0);
        Assert.True(result.Resources is { Samples: > 0 });
        // The 100 (not the probe or the 50 of the warm-up): each one attempt, in one of the two processes. The last warm-up
        // attempt may be recorded just after its webhook arrived, once the stages were read before the measured rows.
        Assert.InRange(result.Stages.Single(s => s.Stage == "run").Count, 100, 101);
        Assert.Equal(0, await fx.ScalarAsync<long>("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", group));
        Assert.Equal(0, await fx.ScalarAsync<long>("SELECT count(*) FROM observer_actions WHERE observer = $1", group));
        Assert.Equal(0, await fx.ScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE tablename LIKE $1", $"load_observer_{group!["load_".Length..]}%"));
    }

    internal sealed class Nodes(List<ObserverNode> nodes) : IObserverGroup
    {
        public IReadOnlyList<int> ProcessIds => [Environment.ProcessId];

        public IReadOnlyList<Uri> MetricsUrls => [.. nodes.Select(n => new Uri(n.Http.BaseAddress!, "/metrics"))];

        public async ValueTask DisposeAsync()
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }
}
