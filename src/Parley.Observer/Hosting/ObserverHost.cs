using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Parley.Observer.Actions;
using Parley.Observer.Inspection;
using Parley.Observer.Metrics;
using Parley.Observer.Queue;
using Parley.Observer.Rules;
using Parley.Server.Extensions;
using Parley.Server.Observability;

namespace Parley.Observer.Hosting;

/// <summary>
/// One observer process: a minimal ASP.NET Core host with <c>GET /metrics</c>, <c>GET /health</c> and <c>GET /status</c> (<see cref="InstanceStatus"/>),
/// the leadership loop and reader (<see cref="ObserverService"/>), the worker pool
/// (<see cref="ActionWorkers"/>) and the action runners. Configuration as for <c>parley serve</c>:
/// <c>Parley:Data</c>, <c>Parley:Redis</c>, <c>Parley:Observer</c>, <c>--urls</c>.
/// </summary>
public static class ObserverHost
{
    public static WebApplication Build(string[] args, RuleSet rules, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var builder = WebApplication.CreateSlimBuilder(args);
        var services = builder.Services;
        services.AddOptions<ObserverOptions>().BindConfiguration(ObserverOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ObserverOptions>>().Value.IndexMessages ? rules.WithMessageSearch() : rules);
        services.AddSingleton<ObserverIdentity>();
        services.AddSingleton<ObserverDatabase>();
        services.AddSingleton<ObserverMetrics>();
        services.AddSingleton<ActionQueue>();
        services.AddSingleton<EventDedup>();
        services.AddSingleton<LeaderLease>();
        services.AddParleyRedis();
        services.AddPrometheusExporter();
        services.AddObserverActions(builder.Configuration);
        services.AddSingleton<ActionWorkers>();
        services.AddHostedService(sp => sp.GetRequiredService<ActionWorkers>());
        services.AddHostedService<ObserverService>();
        services.AddHostedService<GaugePoller>();
        // Parley:Node:ExitWithProcess, as for the server: a supervisor's (e.g. the chaos kit's) observers stop when it is gone.
        services.AddOptions<Parley.Server.Delivery.NodeOptions>().BindConfiguration(Parley.Server.Delivery.NodeOptions.Section);
        services.AddHostedService<Parley.Server.Background.SupervisorWatch>();
        services.AddObserverInspection();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapPrometheusMetrics();
        app.MapObserverStatus();
        app.MapGet("/health", (ObserverIdentity identity, ActionWorkers workers, Microsoft.Extensions.Options.IOptions<ObserverOptions> options) => Results.Json(new
        {
            status = "ok",
            name = options.Value.Name,
            instance = identity.Instance,
            pid = identity.Pid,
            role = identity.Role,
            term = identity.Term,
            leaderSince = identity.LeaderSince,
            streaming = identity.Streaming,
            runningActions = workers.Running,
        }));
        return app;
    }
}
