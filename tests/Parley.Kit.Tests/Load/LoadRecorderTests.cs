using Parley.Kit.Load;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Reports;

namespace Parley.Kit.Tests.Load;

[Trait("Category", "Smoke")]
public sealed class LoadRecorderTests
{
    [Fact]
    public void Latency_is_kept_per_status_so_fast_refusals_do_not_hide_slow_accepted_requests()
    {
        var recorder = new LoadRecorder();
        for (var i = 0; i < 90; i++) recorder.Record(new Outcome("send", OutcomeKind.Expected, 503, "503"), 2_000_000);
        for (var i = 0; i < 10; i++) recorder.Record(new Outcome("send", OutcomeKind.Ok, 201), 200_000_000);

        var send = recorder.Operations["send"];
        Assert.Equal([201, 503], send.LatencyByStatus.Keys.Order());
        var accepted = LatencySummary.Of(send.LatencyByStatus[201]);
        var refused = LatencySummary.Of(send.LatencyByStatus[503]);
        Assert.Equal((10, 90), (accepted.Count, refused.Count));
        Assert.InRange(accepted.P50, 195, 205);
        Assert.InRange(refused.P95, 1.9, 2.1);
        // Mixed, the median is a refusal's: what the per-status view is for.
        Assert.InRange(LatencySummary.Of(send.Latency).P50, 1.9, 2.1);
    }
}
