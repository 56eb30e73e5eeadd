using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Parley.Data.Flags;

/// <summary>
/// Requests whose answer a flag decides, by the flag and the variant the user got (<c>on</c> / <c>off</c>), so a canary
/// (<c>parley canary</c>) compares both variants over the same interval on the same nodes:
/// <c>parley_flag_request_duration_seconds{flag,variant,outcome}</c> (outcome <c>ok</c>; <c>fallback</c>: the flagged
/// path failed and the primary answered; <c>error</c>: the request failed) and
/// <c>parley_flag_pool_wait_seconds{flag,variant}</c>, the time spent waiting for a pooled connection on the path taken.
/// </summary>
public static class FlagVariantMetrics
{
    public const string Ok = "ok";
    public const string Fallback = "fallback";
    public const string Error = "error";

    // Finer than the exporter's defaults, so the canary's rank test on bucket counts has few ties below 100 ms.
    private static readonly double[] Buckets =
        [0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075,
         0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 2.5, 5, 10];

    private static readonly Histogram<double> Duration = DataMetrics.Meter.CreateHistogram(
        "parley.flag.request.duration", "s", "Duration of requests a flag decides, by flag, variant and outcome.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });

    private static readonly Histogram<double> PoolWait = DataMetrics.Meter.CreateHistogram(
        "parley.flag.pool.wait", "s", "Time requests a flag decides waited for a pooled connection, by flag and variant.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });

    public static string Variant(bool on) => on ? "on" : "off";

    /// <summary>One request's account: started when made, recorded once by <see cref="Complete"/>.</summary>
    public sealed class Measurement(string flag, bool on)
    {
        private readonly long _started = Stopwatch.GetTimestamp();
        private TimeSpan _poolWait;

        /// <summary>The outcome so far (<see cref="Fallback"/> once the flagged path failed).</summary>
        public string? Outcome { get; set; }

        public void AddPoolWait(TimeSpan wait) => _poolWait += wait;

        public void Complete(string outcome)
        {
            var variant = Variant(on);
            Duration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds,
                new("flag", flag), new("variant", variant), new("outcome", outcome));
            PoolWait.Record(_poolWait.TotalSeconds, new("flag", flag), new("variant", variant));
        }
    }
}
