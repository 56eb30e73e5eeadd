using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Parley.Data;

namespace Parley.Server.Features.Health;

/// <summary>Ready when the primary answers; a missing replica or cache only degrades.</summary>
public sealed class PrimaryHealthCheck(ParleyDatabase db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await using var cmd = db.Primary.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(timeout.Token);
            return HealthCheckResult.Healthy("primary answers");
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy($"primary unreachable: {e.Message}");
        }
    }
}

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health/live", () => TypedResults.Ok(new { status = "Healthy" })).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            ResponseWriter = WriteAsync,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).AllowAnonymous();
        return app;
    }

    private static Task WriteAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        if (report.Status == HealthStatus.Unhealthy) http.Response.Headers.RetryAfter = "1";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
            }),
        };
        return JsonSerializer.SerializeAsync(http.Response.Body, body, JsonSerializerOptions.Web, http.RequestAborted);
    }
}
