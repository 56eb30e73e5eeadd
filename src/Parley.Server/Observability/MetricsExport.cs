using System.Diagnostics.Metrics;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace Parley.Server.Observability;

/// <summary>
/// <c>GET /metrics</c> in the Prometheus text format, served by OpenTelemetry's Prometheus exporter: chosen over
/// prometheus-net's meter adapter because it keeps the OpenTelemetry → Prometheus names the seeds and kits read
/// (prometheus-net prefixes every family with its meter and drops units), passes promtool and records without
/// allocating, at about 2 ms more per scrape than our former exporter (bench/results/2026-12-02-metrics-export.md).
/// Instruments stay on <see cref="Meter"/>s (through <see cref="IMeterFactory"/> or <see cref="ParleyMetrics"/>);
/// the views below keep what the former exporter promised:
/// <list type="bullet">
/// <item>only meters of this host's <see cref="IMeterFactory"/> (or of none) are exported, so two hosts in one
/// process (as in tests) do not see each other's instruments;</item>
/// <item>a gauge whose name would end in a histogram suffix (<c>_count</c>, <c>_sum</c>, <c>_bucket</c>) gets
/// <c>_value</c> (<c>dotnet_assembly_count_value</c>), and a gauge of unit <c>1</c> gets <c>_ratio</c>, so that
/// <c>promtool check metrics</c> passes;</item>
/// <item>a histogram without advised bounds gets <see cref="SecondsBuckets"/> (unit <c>s</c>) or
/// <see cref="MillisecondsBuckets"/> (<c>ms</c>), with bounds at SLO.md's latency targets; others OpenTelemetry's defaults.</item>
/// </list>
/// Each instrument keeps at most 2,000 tag sets (OpenTelemetry's cardinality limit); measurements beyond it go to
/// one series labelled <c>otel_metric_overflow="true"</c>.
/// </summary>
public static class MetricsExport
{
    /// <summary>
    /// The meters exported by default: a trailing <c>*</c> matches every name that starts with what precedes it.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultMeters =
    [
        "Parley*",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.RateLimiting",
        "Npgsql",
        "Npgsql.*",
        "System.Runtime",
    ];

    /// <summary>Buckets of histograms in seconds that give no advice: 1 ms to 10 s, with bounds at 2, 20, 25, 50, 75, 100, 150 and 250 ms.</summary>
    public static readonly double[] SecondsBuckets = [0.001, 0.002, 0.005, 0.01, 0.02, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>The bounds of <see cref="SecondsBuckets"/> in milliseconds.</summary>
    public static readonly double[] MillisecondsBuckets = [1, 2, 5, 10, 20, 25, 50, 75, 100, 150, 250, 500, 1_000, 2_500, 5_000, 10_000];

    /// <summary>
    /// Starts OpenTelemetry metrics with the host and its Prometheus exporter, for <paramref name="meters"/>
    /// (default <see cref="DefaultMeters"/>).
    /// </summary>
    public static IServiceCollection AddPrometheusExporter(this IServiceCollection services, IEnumerable<string>? meters = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddMetrics();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter([.. meters ?? DefaultMeters])
            .AddPrometheusExporter(options =>
            {
                // Every scrape reads the instruments (the default caches a response for 300 ms).
                options.ScrapeResponseCacheDurationMilliseconds = 0;
                options.ScopeInfoEnabled = false;
                options.TargetInfoEnabled = false;
            }));
        services.ConfigureOpenTelemetryMeterProvider((sp, provider) =>
        {
            IMeterFactory factory = sp.GetRequiredService<IMeterFactory>();
            provider.AddView(instrument => View(instrument, factory));
        });
        return services;
    }

    /// <summary>Maps <c>GET <paramref name="pattern"/></c> to the exporter: anonymous, left out of OpenAPI and of ASP.NET Core's own HTTP metrics.</summary>
    public static IEndpointConventionBuilder MapPrometheusMetrics(this IEndpointRouteBuilder endpoints, string pattern = "/metrics")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapPrometheusScrapingEndpoint(pattern, meterProvider: null, configureBranchedPipeline: branch => branch.Use(WithoutEmptyLabelSetsAsync), optionsName: null)
            .AllowAnonymous()
            .ExcludeFromDescription()
            .DisableHttpMetrics()
            .WithName("PrometheusMetrics");
    }

    /// <summary>The stream of <paramref name="instrument"/>: dropped, renamed, described, given buckets, or as OpenTelemetry makes it (null).</summary>
    internal static MetricStreamConfiguration? View(Instrument instrument, IMeterFactory factory)
    {
        if (instrument.Meter.Scope is IMeterFactory other && !ReferenceEquals(other, factory))
        {
            return MetricStreamConfiguration.Drop;
        }

        string? suffix = IsGauge(instrument) ? GaugeSuffix(instrument) : null;
        // promtool wants a HELP line for every family.
        string? description = string.IsNullOrWhiteSpace(instrument.Description) ? $"{instrument.Name} (meter {instrument.Meter.Name})" : null;
        double[]? buckets = IsHistogram(instrument) && !HasAdvisedBounds(instrument)
            ? instrument.Unit switch { "s" => SecondsBuckets, "ms" => MillisecondsBuckets, _ => null }
            : null;
        if (suffix is null && description is null && buckets is null)
        {
            return null;
        }

        MetricStreamConfiguration stream = buckets is null ? new MetricStreamConfiguration() : new ExplicitBucketHistogramConfiguration { Boundaries = buckets };
        if (suffix is not null)
        {
            stream.Name = instrument.Name + suffix;
        }

        if (description is not null)
        {
            stream.Description = description;
        }

        return stream;
    }

    /// <summary>
    /// Writes <c>name 1</c> where the exporter, its scope labels turned off, writes <c>name{} 1</c> (the same series),
    /// so that readers matching <c>name value</c>, as the seeds and contracts print it, keep working.
    /// </summary>
    private static async Task WithoutEmptyLabelSetsAsync(HttpContext context, RequestDelegate next)
    {
        Stream body = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = body;
        }

        byte[] text = buffer.GetBuffer();
        int length = (int)buffer.Length;
        int written = 0;
        bool lineStart = true;
        bool inName = false;
        for (int i = 0; i < length; i++)
        {
            byte c = text[i];
            if (lineStart)
            {
                inName = c != (byte)'#';
            }

            if (inName && c == (byte)'{' && i + 1 < length && text[i + 1] == (byte)'}')
            {
                i++;
                inName = false;
                continue;
            }

            if (c is (byte)'{' or (byte)' ')
            {
                inName = false;
            }

            lineStart = c == (byte)'\n';
            text[written++] = c;
        }

        context.Response.ContentLength = written;
        await body.WriteAsync(text.AsMemory(0, written), context.RequestAborted);
    }

    private static bool IsHistogram(Instrument instrument) =>
        instrument.GetType().IsGenericType && instrument.GetType().GetGenericTypeDefinition() == typeof(Histogram<>);

    private static bool IsGauge(Instrument instrument)
    {
        if (!instrument.GetType().IsGenericType)
        {
            return false;
        }

        Type definition = instrument.GetType().GetGenericTypeDefinition();
        return definition == typeof(Gauge<>) || definition == typeof(ObservableGauge<>)
            || definition == typeof(UpDownCounter<>) || definition == typeof(ObservableUpDownCounter<>);
    }

    /// <summary><c>.ratio</c> for unit <c>1</c>; <c>.value</c> for a name whose last word is a histogram suffix and whose unit adds no word.</summary>
    private static string? GaugeSuffix(Instrument instrument)
    {
        string last = instrument.Name.Split(['.', '_', '-'], StringSplitOptions.RemoveEmptyEntries).LastOrDefault("").ToLowerInvariant();
        if (instrument.Unit == "1")
        {
            return last == "ratio" ? null : ".ratio";
        }

        bool unitAddsNoWord = string.IsNullOrEmpty(instrument.Unit) || (instrument.Unit.StartsWith('{') && instrument.Unit.EndsWith('}'));
        return unitAddsNoWord && last is "count" or "sum" or "bucket" ? ".value" : null;
    }

    private static bool HasAdvisedBounds(Instrument instrument) => instrument switch
    {
        Instrument<double> i => i.Advice?.HistogramBucketBoundaries is not null,
        Instrument<float> i => i.Advice?.HistogramBucketBoundaries is not null,
        Instrument<long> i => i.Advice?.HistogramBucketBoundaries is not null,
        Instrument<int> i => i.Advice?.HistogramBucketBoundaries is not null,
        Instrument<short> i => i.Advice?.HistogramBucketBoundaries is not null,
        Instrument<byte> i => i.Advice?.HistogramBucketBoundaries is not null,
        _ => false,
    };
}
