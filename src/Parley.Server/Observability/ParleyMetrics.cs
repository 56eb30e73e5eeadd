using System.Diagnostics.Metrics;

namespace Parley.Server.Observability;

/// <summary>
/// The meter of Parley's own instruments, exported on <c>/metrics</c> by <see cref="MetricsExport"/> (meter names
/// <c>Parley*</c>). Create instruments once, in static fields of the feature that records them:
/// <code>
/// static readonly Counter&lt;long&gt; Sent = ParleyMetrics.Meter.CreateCounter&lt;long&gt;(
///     "parley.messages.sent", "{message}", "Messages stored and acknowledged.");
/// </code>
/// Names are dotted lower case (<c>parley.area.thing</c>); durations are histograms in seconds
/// (<c>"s"</c>, which Prometheus prefers to <c>"ms"</c>); tags take values from small, fixed sets
/// (never ids), since each instrument keeps at most 2,000 tag sets.
/// </summary>
public static class ParleyMetrics
{
    /// <summary>The name of <see cref="Meter"/>.</summary>
    public const string MeterName = "Parley";

    /// <summary>The meter every Parley feature creates its instruments on.</summary>
    public static readonly Meter Meter = new(MeterName);
}
