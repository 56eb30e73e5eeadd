namespace Parley.Server.Observability;

/// <summary>Options of <see cref="PrometheusExporter"/>; every default is documented on its property.</summary>
public sealed class PrometheusExporterOptions
{
    /// <summary>The default cap on distinct tag sets per instrument.</summary>
    public const int DefaultMaxSeriesPerInstrument = 2_000;

    /// <summary>
    /// Meters whose instruments are exported. A name ending in <c>*</c> matches every meter whose
    /// name starts with what precedes it; any other name matches that meter and the meters below it
    /// (<c>Npgsql</c> matches <c>Npgsql</c> and <c>Npgsql.Foo</c>). Default: <c>Parley*</c>,
    /// <c>Microsoft.AspNetCore.Hosting</c>, <c>Microsoft.AspNetCore.Server.Kestrel</c>,
    /// <c>Microsoft.AspNetCore.RateLimiting</c>, <c>Npgsql</c>, <c>System.Runtime</c>.
    /// </summary>
    public IList<string> MeterNames { get; } =
    [
        "Parley*",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.RateLimiting",
        "Npgsql",
        "System.Runtime",
    ];

    /// <summary>
    /// Distinct tag sets kept per instrument (default 2,000). Measurements that would create one more
    /// are dropped and counted in <c>parley_metrics_dropped_series_total</c>.
    /// </summary>
    public int MaxSeriesPerInstrument { get; set; } = DefaultMaxSeriesPerInstrument;

    /// <summary>
    /// Buckets of histograms in seconds (unit <c>s</c>) that give no advice: 1 ms to 10 s, with
    /// bounds at the latency targets of SLO.md (2, 20, 25, 50, 75, 100, 150, 250 ms).
    /// </summary>
    public IList<double> SecondsBuckets { get; set; } =
        [0.001, 0.002, 0.005, 0.01, 0.02, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>The same bounds as <see cref="SecondsBuckets"/> for histograms in milliseconds (unit <c>ms</c>).</summary>
    public IList<double> MillisecondsBuckets { get; set; } =
        [1, 2, 5, 10, 20, 25, 50, 75, 100, 150, 250, 500, 1_000, 2_500, 5_000, 10_000];

    /// <summary>Buckets of other histograms without advice: OpenTelemetry's default bounds.</summary>
    public IList<double> DefaultBuckets { get; set; } =
        [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1_000, 2_500, 5_000, 7_500, 10_000];
}
