using Parley.Kit.Load;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Gates;

namespace Parley.Kit.Tests.Load;

[Trait("Category", "Smoke")]
public sealed class GateTests
{
    private static GateData Data(long[] latenciesMs, long errors, Dictionary<string, double>? values = null)
    {
        var histogram = new LatencyHistogram();
        foreach (var ms in latenciesMs) histogram.Record(ms * 1_000_000);
        return new GateData(histogram, latenciesMs.Length, errors, TimeSpan.FromSeconds(10), new Dictionary<string, LatencyHistogram>(), values ?? []);
    }

    [Theory]
    [InlineData("p95<50ms", GateKind.Latency, 95, GateOperator.Less, 50e6)]
    [InlineData("p99.9 <= 1.5s", GateKind.Latency, 99.9, GateOperator.LessOrEqual, 1.5e9)]
    [InlineData("max<800us", GateKind.Latency, 100, GateOperator.Less, 800e3)]
    [InlineData("mean<3ms", GateKind.Latency, -1, GateOperator.Less, 3e6)]
    [InlineData("errors<0.1%", GateKind.ErrorRate, 0, GateOperator.Less, 0.001)]
    [InlineData("errors==0", GateKind.ErrorRate, 0, GateOperator.Equal, 0)]
    [InlineData("rate>=4000", GateKind.Throughput, 0, GateOperator.GreaterOrEqual, 4000)]
    [InlineData("lost==0", GateKind.Value, 0, GateOperator.Equal, 0)]
    [InlineData("duplicates<=3", GateKind.Value, 0, GateOperator.LessOrEqual, 3)]
    [InlineData("memory_growth<5%", GateKind.Value, 0, GateOperator.Less, 0.05)]
    public void Gates_parse_into_kind_operator_and_normalised_threshold(string text, GateKind kind, double percentile, GateOperator op, double threshold)
    {
        var gate = Gate.Parse(text);

        Assert.Equal(kind, gate.Kind);
        Assert.Equal(op, gate.Operator);
        Assert.Equal(threshold, gate.Threshold, 6);
        if (kind == GateKind.Latency) Assert.Equal(percentile, gate.Percentile);
    }

    [Fact]
    public void A_named_histogram_gate_keeps_the_histogram_name()
    {
        var gate = Gate.Parse("delivery.p99<100ms");

        Assert.Equal(GateKind.Latency, gate.Kind);
        Assert.Equal("delivery", gate.Histogram);
        Assert.Equal(99, gate.Percentile);
        Assert.False(gate.AppliesToRequests);
    }

    [Theory]
    [InlineData("p95 50ms")]
    [InlineData("p95<fast")]
    [InlineData("p95<50%")]
    [InlineData("lost==0ms")]
    [InlineData("p101<5ms")]
    public void Malformed_gates_are_refused_with_an_example(string text)
    {
        var error = Assert.Throws<LoadConfigurationException>(() => Gate.Parse(text));

        Assert.Contains(text.Trim(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Latency_and_error_gates_pass_and_fail_on_the_data()
    {
        var data = Data([.. Enumerable.Repeat(10L, 95), .. Enumerable.Repeat(200L, 5)], errors: 1);

        Assert.Equal(GateStatus.Pass, GateEvaluator.Evaluate(Gate.Parse("p95<11ms"), data).Status);
        Assert.Equal(GateStatus.Fail, GateEvaluator.Evaluate(Gate.Parse("p99<100ms"), data).Status);
        Assert.Equal(GateStatus.Pass, GateEvaluator.Evaluate(Gate.Parse("errors<=1%"), data).Status);
        Assert.Equal(GateStatus.Fail, GateEvaluator.Evaluate(Gate.Parse("errors==0"), data).Status);
        Assert.Equal(GateStatus.Pass, GateEvaluator.Evaluate(Gate.Parse("rate>=10"), data).Status);
    }

    [Fact]
    public void No_data_is_inconclusive_never_a_pass()
    {
        var empty = Data([], errors: 0);

        foreach (var text in new[] { "p95<50ms", "errors<0.1%", "rate>=1", "lost==0", "delivery.p99<100ms" })
            Assert.Equal(GateStatus.Inconclusive, GateEvaluator.Evaluate(Gate.Parse(text), empty).Status);
        Assert.Equal("inconclusive", Parley.Kit.Load.Reports.RunSummary.VerdictOf(GateEvaluator.Evaluate([Gate.Parse("p95<50ms")], empty)));
    }

    [Fact]
    public void Correctness_counters_are_judged_by_value()
    {
        var data = Data([1], 0, new Dictionary<string, double> { ["lost"] = 0, ["duplicates"] = 4, ["memory_growth"] = 0.031 });

        Assert.Equal(GateStatus.Pass, GateEvaluator.Evaluate(Gate.Parse("lost==0"), data).Status);
        Assert.Equal(GateStatus.Fail, GateEvaluator.Evaluate(Gate.Parse("duplicates<=3"), data).Status);
        Assert.Equal(GateStatus.Pass, GateEvaluator.Evaluate(Gate.Parse("memory_growth<5%"), data).Status);
    }

    [Fact]
    public void The_monitor_aborts_only_when_a_gate_stays_breached_for_the_whole_window()
    {
        var monitor = new GateMonitor([Gate.Parse("p95<10ms")], windowSeconds: 3);
        LatencyHistogram Second(long ms)
        {
            var h = new LatencyHistogram();
            for (var i = 0; i < 20; i++) h.Record(ms * 1_000_000);
            return h;
        }

        Assert.Null(monitor.Observe(Second(50), 20, 0));
        Assert.Null(monitor.Observe(Second(50), 20, 0));
        Assert.Null(monitor.Observe(Second(5), 20, 0));      // one good second resets the streak
        Assert.Null(monitor.Observe(Second(50), 20, 0));
        Assert.Null(monitor.Observe(new LatencyHistogram(), 0, 0)); // an empty second is inconclusive: resets, never condemns
        Assert.Null(monitor.Observe(Second(50), 20, 0));
        Assert.Null(monitor.Observe(Second(50), 20, 0));
        Assert.Contains("p95<10ms", monitor.Observe(Second(50), 20, 0), StringComparison.Ordinal);
    }

    [Fact]
    public void A_gates_file_skips_comments_and_blank_lines()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, ["# history SLO", "p95<50ms", "", "errors<1%   # seed"]);

            var gates = Gate.ParseFile(path);

            Assert.Equal(["p95<50ms", "errors<1%"], gates.Select(g => g.Text));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
