using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Parley.Server.Monitoring;
using Parley.Server.Observability;

namespace Parley.Server.Tests.Monitoring;

/// <summary>A meter factory of its own and an exporter limited to it, so a test reads only its own monitors.</summary>
internal sealed class MonitorMetrics : IDisposable
{
    private readonly ServiceProvider _services;

    public MonitorMetrics()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = _services.GetRequiredService<IMeterFactory>();
        Meter = new MonitoringMeter(factory);
        var options = new PrometheusExporterOptions();
        options.MeterNames.Clear();
        options.MeterNames.Add(MonitoringMeter.Name);
        Exporter = new PrometheusExporter(options, factory);
    }

    public MonitoringMeter Meter { get; }

    public PrometheusExporter Exporter { get; }

    public void Dispose()
    {
        Exporter.Dispose();
        _services.Dispose();
    }
}
