using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Parley.Server.Monitoring;
using Parley.Server.Tests.Observability;

namespace Parley.Server.Tests.Monitoring;

/// <summary>A host of its own that exports only the monitoring meter of its meter factory, so a test reads only its own monitors.</summary>
internal sealed class MonitorMetrics : IDisposable
{
    private readonly MetricsHost _host = new([MonitoringMeter.Name]);

    public MonitorMetrics() => Meter = new MonitoringMeter(_host.Services.GetRequiredService<IMeterFactory>());

    public MonitoringMeter Meter { get; }

    public string Scrape() => _host.Scrape();

    public void Dispose() => _host.Dispose();
}
