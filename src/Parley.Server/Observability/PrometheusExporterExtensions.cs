using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Parley.Server.Observability;

/// <summary>Registration of <see cref="PrometheusExporter"/> and its scrape endpoint.</summary>
public static class PrometheusExporterExtensions
{
    /// <summary>
    /// Registers <see cref="PrometheusExporter"/> as a singleton that starts listening when the host
    /// starts (before the server accepts requests), limited to the meters of this host's
    /// <see cref="IMeterFactory"/> and meters created without a factory.
    /// </summary>
    public static IServiceCollection AddPrometheusExporter(this IServiceCollection services, Action<PrometheusExporterOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<PrometheusExporterOptions> options = services.AddOptions<PrometheusExporterOptions>()
            .Validate(o => o.MaxSeriesPerInstrument >= 1, "PrometheusExporterOptions.MaxSeriesPerInstrument must be at least 1.")
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddMetrics();
        services.TryAddSingleton(sp => new PrometheusExporter(
            sp.GetRequiredService<IOptions<PrometheusExporterOptions>>().Value,
            sp.GetService<IMeterFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PrometheusExporterStarter>());
        return services;
    }

    /// <summary>
    /// Maps <c>GET <paramref name="pattern"/></c> to the exporter's text output: anonymous, left out of
    /// OpenAPI and of ASP.NET Core's own HTTP metrics.
    /// </summary>
    public static IEndpointRouteBuilder MapPrometheusMetrics(this IEndpointRouteBuilder endpoints, string pattern = "/metrics")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet(pattern, WriteMetricsAsync)
            .AllowAnonymous()
            .ExcludeFromDescription()
            .DisableHttpMetrics()
            .WithName("PrometheusMetrics");
        return endpoints;
    }

    private static async Task WriteMetricsAsync(HttpContext context, PrometheusExporter exporter)
    {
        context.Response.ContentType = PrometheusExporter.ContentType;
        context.Response.Headers.CacheControl = "no-store";
        await exporter.WriteAsync(context.Response.Body, context.RequestAborted);
    }

    /// <summary>Resolves the exporter when the host starts, so that it listens from then on.</summary>
    private sealed class PrometheusExporterStarter(PrometheusExporter exporter) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(exporter);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
