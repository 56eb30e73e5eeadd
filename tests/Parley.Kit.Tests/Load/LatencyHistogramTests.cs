using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Parley.Kit.Load;

namespace Parley.Kit.Tests.Load;

[Trait("Category", "Smoke")]
public sealed class LatencyHistogramTests
{
    private static readonly double[] Percentiles = [50, 90, 95, 99, 99.9];

    /// <summary>Nearest rank: the smallest sample with at least p% of the samples at or below it.</summary>
    private static long ExactPercentile(long[] sorted, double percentile) =>
        sorted[Math.Max(1, (int)Math.Ceiling(percentile / 100.0 * sorted.Length)) - 1];

    private static LatencyHistogram Of(IEnumerable<long> values)
    {
        var histogram = new LatencyHistogram();
        foreach (var value in values) histogram.Record(value);
        return histogram;
    }

    [Fact]
    public void Percentiles_of_one_to_ten_thousand_microseconds_are_within_one_percent()
    {
        var samples = Enumerable.Range(1, 10_000).Select(i => i * 1_000L).ToArray();
        var histogram = Of(samples);

        foreach (var p in Percentiles)
        {
            var exact = ExactPercentile(samples, p);
            Assert.InRange(histogram.ValueAtPercentile(p), exact * 0.99, exact * 1.01);
        }
        Assert.Equal(10_000_000, histogram.MaxNanoseconds);
        Assert.Equal(1_000, histogram.MinNanoseconds);
        Assert.Equal(5_000_500, histogram.MeanNanoseconds, 3);
    }

    [Fact]
    public void Small_values_are_exact()
    {
        var histogram = Of([3, 3, 7, 200, 255]);

        Assert.Equal(3, histogram.ValueAtPercentile(40));
        Assert.Equal(7, histogram.ValueAtPercentile(60));
        Assert.Equal(255, histogram.ValueAtPercentile(100));
    }

    [Fact]
    public void A_long_tail_is_reported_at_its_real_size()
    {
        // 990 fast requests at 2 ms and 10 stalled at 1.5 s: p99 is fast, p99.9 and max see the stall.
        var samples = Enumerable.Repeat(2_000_000L, 990).Concat(Enumerable.Repeat(1_500_000_000L, 10)).ToArray();
        var histogram = Of(samples);

        Assert.InRange(histogram.ValueAtPercentile(99), 1_980_000, 2_020_000);
        Assert.InRange(histogram.ValueAtPercentile(99.9), 1_485_000_000, 1_515_000_000);
        Assert.Equal(1_500_000_000, histogram.MaxNanoseconds);
    }

    [Fact]
    public void An_empty_histogram_reports_zero_everywhere()
    {
        var histogram = new LatencyHistogram();

        Assert.Equal(0, histogram.Count);
        Assert.Equal(0, histogram.ValueAtPercentile(99));
        Assert.Equal(0, histogram.MinNanoseconds);
        Assert.Equal(0, histogram.MeanNanoseconds);
    }

    [Fact]
    public void Merging_equals_recording_everything_in_one()
    {
        var random = new Random(7);
        var samples = Enumerable.Range(0, 20_000).Select(_ => (long)(random.NextDouble() * random.NextDouble() * 5e8)).ToArray();
        var parts = Enumerable.Range(0, 4).Select(part => Of(samples.Where((_, i) => i % 4 == part))).ToList();
        var merged = new LatencyHistogram();
        foreach (var part in parts) merged.Merge(part);
        var whole = Of(samples);

        Assert.Equal(whole.Count, merged.Count);
        Assert.Equal(whole.MaxNanoseconds, merged.MaxNanoseconds);
        Assert.Equal(whole.MinNanoseconds, merged.MinNanoseconds);
        foreach (var p in Percentiles)
            Assert.Equal(whole.ValueAtPercentile(p), merged.ValueAtPercentile(p));
    }

    [Fact]
    public void Concurrent_recording_loses_no_value()
    {
        var histogram = new LatencyHistogram();

        Parallel.For(0, 8, worker =>
        {
            for (var i = 0; i < 50_000; i++) histogram.Record(1_000 + i);
        });

        Assert.Equal(400_000, histogram.Count);
        Assert.Equal(50_999, histogram.MaxNanoseconds);
    }

    [Fact]
    public void A_snapshot_round_trips()
    {
        var histogram = Of([5, 1_000, 1_000, 77_000_000, 3_000_000_000]);

        var copy = LatencyHistogram.FromSnapshot(histogram.ToSnapshot());

        Assert.Equal(histogram.Count, copy.Count);
        Assert.Equal(histogram.MeanNanoseconds, copy.MeanNanoseconds);
        Assert.Equal(histogram.ValueAtPercentile(75), copy.ValueAtPercentile(75));
        Assert.Equal(3_000_000_000, copy.MaxNanoseconds);
    }

    [Fact]
    public void A_snapshot_that_is_not_an_hdrhistogram_encoding_is_rejected()
    {
        Assert.Throws<FormatException>(() => LatencyHistogram.FromSnapshot(new HistogramSnapshot(1, 5, 5, 5, "bm90IGEgaGlzdG9ncmFt")));
        Assert.Throws<FormatException>(() => LatencyHistogram.FromSnapshot(new HistogramSnapshot(1, 5, 5, 5, null)));
    }

    [Fact]
    public void A_value_beyond_the_highest_trackable_is_recorded_as_it()
    {
        var histogram = Of([long.MaxValue, 1_000]);

        Assert.Equal(LatencyHistogram.HighestTrackable, histogram.MaxNanoseconds);
        Assert.Equal(2, histogram.Count);
    }

    [Property(MaxTest = 300)]
    public Property Any_percentile_of_random_samples_is_within_one_percent_of_the_exact_one()
    {
        var samples = Gen.Choose(1, 400)
            .SelectMany(n => Gen.ArrayOf(Gen.Choose(0, int.MaxValue).SelectMany(v => Gen.Choose(1, 50).Select(scale => (long)v * scale)), n));
        var percentile = Gen.Choose(0, 100_000).Select(p => p / 1000.0);

        return Prop.ForAll(samples.ToArbitrary(), percentile.ToArbitrary(), (values, p) =>
        {
            var sorted = values.Order().ToArray();
            var exact = ExactPercentile(sorted, p);
            var measured = Of(values).ValueAtPercentile(p);
            return Math.Abs(measured - exact) <= Math.Max(exact * 0.01, 0.5);
        });
    }
}
