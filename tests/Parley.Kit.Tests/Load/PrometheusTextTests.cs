using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Tests.Load;

[Trait("Category", "Smoke")]
public sealed class PrometheusTextTests
{
    private const string Exposition = """
        # HELP db_pool_saturation In use / max.
        # TYPE db_pool_saturation gauge
        db_pool_saturation{source="primary"} 0.25
        db_pool_saturation{source="replica"} 0.75
        parley_cache_requests_total{result="hit"} 90
        parley_cache_requests_total{result="miss"} 10
        parley_cache_requests_total{result="skipped"} 3
        dotnet_process_memory_working_set_bytes 104857600
        dotnet_gc_collections_total{gc_heap_generation="gen0"} 4
        dotnet_gc_collections_total{gc_heap_generation="gen1"} 1
        weird_label{path="a\"b,c}"} 7 1700000000000
        """;

    [Fact]
    public void Samples_are_read_with_labels_and_escapes()
    {
        var samples = PrometheusText.Parse(Exposition);

        Assert.Equal(9, samples.Count);
        var weird = Assert.Single(samples, s => s.Name == "weird_label");
        Assert.Equal("a\"b,c}", weird.Labels["path"]);
        Assert.Equal(7, weird.Value);
    }

    [Fact]
    public void A_server_sample_takes_the_primary_pool_cache_results_memory_and_gc()
    {
        var sample = ServerSample.From(1, PrometheusText.Parse(Exposition));

        Assert.Equal(0.25, sample.PoolSaturation);
        Assert.Equal(90, sample.CacheHits);
        Assert.Equal(10, sample.CacheMisses);
        Assert.Equal(104857600, sample.WorkingSetBytes);
        Assert.Equal(5, sample.GcCollections);
        Assert.Null(sample.ReplicaLagSeconds);
    }

    [Fact]
    public void The_summary_reports_deltas_and_memory_growth()
    {
        var first = ServerSample.From(0, PrometheusText.Parse(Exposition));
        var last = first with { ElapsedSeconds = 60, CacheHits = 180, CacheMisses = 20, WorkingSetBytes = 110100480, GcCollections = 9 };

        var summary = ServerSummary.Of([first, last]);

        Assert.Equal(0.9, summary.CacheHitRatio!.Value, 6);
        Assert.Equal(0.05, summary.MemoryGrowth!.Value, 6);
        Assert.Equal(4, summary.GcCollections);
    }
}
