using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Parley.Observer.Actions;
using Parley.Observer.Hosting;
using Parley.Observer.Metrics;
using Parley.Observer.Queue;

namespace Parley.Observer.Inspection;

/// <summary>An endpoint's circuit breaker in one process (breakers are per process: each counts its own attempts).</summary>
public sealed record BreakerStatus(string Endpoint, string State);

/// <summary>
/// What only a running observer process knows, served at its <c>GET /status</c> and read by
/// <c>parley observer status</c> from the URL each process registers in <c>observer_instances</c>:
/// its role, the events it read per second, its checkpoint lag and its breakers' states.
/// </summary>
public sealed record InstanceStatus(
    string Instance, int Pid, string Role, long? Term, DateTimeOffset? LeaderSince, bool Streaming, int RunningActions,
    double EventsPerSecond, long EventsRead, long DedupHits, double CheckpointLagSeconds, IReadOnlyList<BreakerStatus> Breakers)
{
    public static string StateName(BreakerState state) => state switch
    {
        BreakerState.Closed => "closed",
        BreakerState.Open => "open",
        _ => "half-open",
    };
}

/// <summary>
/// Events per second over the last <see cref="Window"/>, from samples of the events-read count taken
/// every second (a one-shot CLI call cannot measure a rate itself).
/// </summary>
public sealed class EventRate(ObserverMetrics metrics) : BackgroundService
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly Queue<(DateTime At, long Count)> _samples = new();

    public double PerSecond
    {
        get
        {
            lock (_samples)
            {
                if (_samples.Count == 0) return 0;
                var (at, count) = _samples.Peek();
                var seconds = (DateTime.UtcNow - at).TotalSeconds;
                return seconds <= 0 ? 0 : (metrics.EventsRead - count) / seconds;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            lock (_samples)
            {
                _samples.Enqueue((DateTime.UtcNow, metrics.EventsRead));
                while (_samples.Count > Window.TotalSeconds + 1) _samples.Dequeue();
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}

public static class InspectionServices
{
    public static IServiceCollection AddObserverInspection(this IServiceCollection services)
    {
        services.AddSingleton<EventRate>();
        services.AddHostedService(sp => sp.GetRequiredService<EventRate>());
        return services;
    }

    /// <summary><c>GET /status</c>: this process's <see cref="InstanceStatus"/> as JSON.</summary>
    public static IEndpointRouteBuilder MapObserverStatus(this IEndpointRouteBuilder app)
    {
        app.MapGet("/status", (ObserverIdentity identity, ActionWorkers workers, ObserverMetrics metrics, EventRate rate, EndpointBreakers breakers) =>
            Results.Json(new InstanceStatus(
                identity.Instance, identity.Pid, identity.Role, identity.Term, identity.LeaderSince, identity.Streaming, workers.Running,
                Math.Round(rate.PerSecond, 1), metrics.EventsRead, metrics.DedupHitCount, identity.Term is null ? 0 : metrics.LagSeconds,
                [.. breakers.States().OrderBy(b => b.Key, StringComparer.Ordinal).Select(b => new BreakerStatus(b.Key, InstanceStatus.StateName(b.Value)))])));
        return app;
    }
}
