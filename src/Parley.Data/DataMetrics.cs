using System.Diagnostics.Metrics;

namespace Parley.Data;

/// <summary>The data layer's meter; the server's exporter picks up every "Parley*" meter.</summary>
internal static class DataMetrics
{
    public static readonly Meter Meter = new("Parley.Data");
}
