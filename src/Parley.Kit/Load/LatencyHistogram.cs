namespace Parley.Kit.Load;

/// <summary>
/// A log-linear latency histogram in nanoseconds (the shape of HdrHistogram with 128 sub-buckets per power of two):
/// values below 256 ns are counted exactly; above, each power of two is split into 128 equal buckets, so a bucket is
/// at most 1/128 of its value wide and a percentile, reported as its bucket's midpoint, is within 0.4% of the exact one.
/// Recording is lock-free and thread-safe; histograms merge by adding counts (workers, seconds, runs).
/// Values above <see cref="HighestTrackable"/> (about 18 minutes) are clamped to it. 36 KB per histogram.
/// </summary>
/// <remarks>Kept small and behind this one type so HdrHistogram can replace it the day it restores from our mirror.</remarks>
public sealed class LatencyHistogram
{
    /// <summary>Sub-buckets per power of two; the relative bucket width is at most 1 / SubBuckets.</summary>
    public const int SubBuckets = 128;

    private const int SubBucketBits = 7;
    private const int ExactBelow = 2 * SubBuckets;
    private const int HighestExponent = 40;

    /// <summary>2^41 - 1 ns, about 36 minutes: anything longer is recorded as this.</summary>
    public const long HighestTrackable = (1L << (HighestExponent + 1)) - 1;

    /// <summary>Buckets in a histogram: 256 exact, then 128 per power of two from 2^8 to 2^40.</summary>
    public const int BucketCount = ExactBelow + (HighestExponent - SubBucketBits) * SubBuckets;

    private readonly long[] _counts = new long[BucketCount];
    private long _total;
    private long _sum;
    private long _min = long.MaxValue;
    private long _max;

    public long Count => Volatile.Read(ref _total);

    /// <summary>The largest value recorded, exactly (not a bucket value); 0 when empty.</summary>
    public long MaxNanoseconds => Volatile.Read(ref _max);

    /// <summary>The smallest value recorded, exactly; 0 when empty.</summary>
    public long MinNanoseconds => Count == 0 ? 0 : Volatile.Read(ref _min);

    public double MeanNanoseconds => Count == 0 ? 0 : (double)Volatile.Read(ref _sum) / Count;

    public void Record(TimeSpan latency) => Record(latency.Ticks * 100);

    public void Record(long nanoseconds) => Record(nanoseconds, 1);

    /// <summary>Records <paramref name="count"/> occurrences of a value; negative values count as 0.</summary>
    public void Record(long nanoseconds, long count)
    {
        if (count <= 0) return;
        var value = Math.Clamp(nanoseconds, 0, HighestTrackable);
        Interlocked.Add(ref _counts[BucketIndex(value)], count);
        Interlocked.Add(ref _total, count);
        Interlocked.Add(ref _sum, value * count);
        UpdateMin(value);
        UpdateMax(value);
    }

    /// <summary>Adds <paramref name="other"/>'s counts to this one.</summary>
    public void Merge(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Count == 0) return;
        for (var i = 0; i < BucketCount; i++)
        {
            var c = Volatile.Read(ref other._counts[i]);
            if (c != 0) Interlocked.Add(ref _counts[i], c);
        }
        Interlocked.Add(ref _total, other.Count);
        Interlocked.Add(ref _sum, Volatile.Read(ref other._sum));
        UpdateMin(Volatile.Read(ref other._min));
        UpdateMax(other.MaxNanoseconds);
    }

    /// <summary>
    /// The value at percentile <paramref name="percentile"/> (0..100) by nearest rank: the smallest recorded value
    /// with at least that share of values at or below it, as its bucket's midpoint (clamped to the exact min and max).
    /// 0 when empty.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var total = Count;
        if (total == 0) return 0;
        if (percentile >= 100) return MaxNanoseconds;
        var rank = Math.Max(1, (long)Math.Ceiling(percentile / 100.0 * total));
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank)
                return Math.Clamp(Midpoint(i), MinNanoseconds, MaxNanoseconds);
        }
        return MaxNanoseconds;
    }

    public TimeSpan Percentile(double percentile) => TimeSpan.FromTicks(ValueAtPercentile(percentile) / 100);

    /// <summary>The buckets that hold values, as (representative value in ns, count), ascending.</summary>
    public IEnumerable<(long Value, long Count)> Buckets()
    {
        for (var i = 0; i < BucketCount; i++)
        {
            var c = Volatile.Read(ref _counts[i]);
            if (c != 0) yield return (Midpoint(i), c);
        }
    }

    /// <summary>A compact form for JSON: the non-empty buckets as [index, count] pairs plus min, max and sum.</summary>
    public HistogramSnapshot ToSnapshot()
    {
        var buckets = new List<long[]>();
        for (var i = 0; i < BucketCount; i++)
        {
            var c = Volatile.Read(ref _counts[i]);
            if (c != 0) buckets.Add([i, c]);
        }
        return new HistogramSnapshot(Count, MinNanoseconds, MaxNanoseconds, Volatile.Read(ref _sum), buckets);
    }

    /// <summary>Rebuilds a histogram from <see cref="ToSnapshot"/>; rejects bucket indexes out of range.</summary>
    public static LatencyHistogram FromSnapshot(HistogramSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var histogram = new LatencyHistogram();
        foreach (var pair in snapshot.Buckets)
        {
            if (pair is not [var index, var count] || index < 0 || index >= BucketCount || count < 0)
                throw new FormatException($"A histogram bucket must be [index 0..{BucketCount - 1}, count ≥ 0].");
            histogram._counts[index] = count;
            histogram._total += count;
        }
        histogram._sum = snapshot.Sum;
        if (histogram._total > 0)
        {
            histogram._min = snapshot.Min;
            histogram._max = snapshot.Max;
        }
        return histogram;
    }

    internal static int BucketIndex(long value)
    {
        if (value < ExactBelow) return (int)value;
        var exponent = 63 - (int)long.LeadingZeroCount(value); // ≥ 8
        var shift = exponent - SubBucketBits;
        var sub = (int)(value >> shift); // 128..255
        return ExactBelow + (exponent - SubBucketBits - 1) * SubBuckets + (sub - SubBuckets);
    }

    /// <summary>The lowest and highest value a bucket holds.</summary>
    internal static (long Low, long High) BucketRange(int index)
    {
        if (index < ExactBelow) return (index, index);
        var offset = index - ExactBelow;
        var shift = offset / SubBuckets + 1;
        var sub = SubBuckets + offset % SubBuckets;
        var low = (long)sub << shift;
        return (low, low + (1L << shift) - 1);
    }

    private static long Midpoint(int index)
    {
        var (low, high) = BucketRange(index);
        return low + (high - low) / 2;
    }

    private void UpdateMin(long value)
    {
        var current = Volatile.Read(ref _min);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref _min, value, current);
            if (seen == current) return;
            current = seen;
        }
    }

    private void UpdateMax(long value)
    {
        var current = Volatile.Read(ref _max);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref _max, value, current);
            if (seen == current) return;
            current = seen;
        }
    }
}

/// <summary>A <see cref="LatencyHistogram"/> as stored in run summaries and baselines (nanoseconds).</summary>
public sealed record HistogramSnapshot(long Count, long Min, long Max, long Sum, IReadOnlyList<long[]> Buckets);
