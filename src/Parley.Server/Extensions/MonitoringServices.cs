using Parley.Server.Monitoring;

namespace Parley.Server.Extensions;

/// <summary>Registration of the database monitors (seed 001's four services) and their options.</summary>
public static class MonitoringServices
{
    /// <summary>
    /// Binds <see cref="MonitoringOptions"/> from <c>Parley:Monitoring</c> (validated at start) and
    /// registers <see cref="QueryTimer"/>, <see cref="VacuumHealthMonitor"/>,
    /// <see cref="NpgsqlPoolSaturation"/> and <see cref="PgBouncerMonitor"/> (which polls only
    /// when an admin connection string is configured). Per-table autovacuum settings are a migration (0003).
    /// </summary>
    public static WebApplicationBuilder AddParleyMonitoring(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddParleyOptions<MonitoringOptions>().ValidateDataAnnotations()
            .Validate(o => o.VacuumTables.All(t => !string.IsNullOrWhiteSpace(t)), "Parley:Monitoring:VacuumTables must not contain empty names.")
            .ValidateOnStart();
        services.AddMetrics();
        services.AddSingleton<MonitoringMeter>();

        services.AddSingleton<QueryTimer>();
        services.AddHostedService(sp => sp.GetRequiredService<QueryTimer>());
        services.AddSingleton<VacuumHealthMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<VacuumHealthMonitor>());
        services.AddSingleton<NpgsqlPoolSaturation>();
        services.AddHostedService<StartMonitorInstruments>();

        // Always registered: configuration may still grow after this call; it idles without an admin connection string.
        services.AddSingleton<PgBouncerMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<PgBouncerMonitor>());
        return builder;
    }

    /// <summary>Creates the gauge-only singletons at start, so that their instruments exist before the first scrape.</summary>
    private sealed class StartMonitorInstruments(NpgsqlPoolSaturation pool) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(pool);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
