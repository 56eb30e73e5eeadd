using System.Diagnostics.Metrics;

namespace Parley.Server.Monitoring;

/// <summary>
/// The meter the monitors create their instruments on: <c>Parley.Monitoring</c>, made by the host's
/// <see cref="IMeterFactory"/> so that each host (several run in one test process) exports only its
/// own monitors' readings.
/// </summary>
public sealed class MonitoringMeter
{
    public const string Name = "Parley.Monitoring";

    public MonitoringMeter(IMeterFactory factory)
    {
        Meter = factory.Create(Name);
        Failures = Meter.CreateCounter<long>("parley.monitor.failures", "{failure}", "Monitor polls that failed, by monitor.");
    }

    public Meter Meter { get; }

    /// <summary>Failed polls, tagged <c>monitor</c>.</summary>
    public Counter<long> Failures { get; }
}
