using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.OpenApi;
using Parley.Server.Http;

namespace Parley.Server.Features.Health;

/// <summary>
/// <c>/health/live</c> and <c>/health/ready</c>. Readiness shows each dependency's latest probe result: status,
/// a fixed description (never a driver's or exception's message: the endpoint is anonymous), its age and the
/// probe's duration. Unhealthy (503) only when the primary does not answer.
/// </summary>
public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health/live", () => TypedResults.Ok(new HealthStatusBody("Healthy"))).AllowAnonymous();
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

    /// <summary>
    /// Readiness in the OpenAPI document: the health-check middleware's endpoint is not a route handler, so the
    /// generator does not see it, and it is described here by hand.
    /// </summary>
    public static IServiceCollection AddReadinessDocs(this IServiceCollection services) =>
        services.Configure<OpenApiOptions>(ApiDocs.DocumentName, o => o.AddDocumentTransformer((document, _, _) =>
        {
            static OpenApiResponse Answer(string description) => new()
            {
                Description = description,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() },
            };
            document.Paths ??= [];
            document.Paths["/health/ready"] = new OpenApiPathItem
            {
                Operations = new Dictionary<HttpMethod, OpenApiOperation>
                {
                    [HttpMethod.Get] = new()
                    {
                        Summary = "Readiness: each dependency's latest probe",
                        Responses = new OpenApiResponses
                        {
                            ["200"] = Answer("Healthy or Degraded (a replica or the cache down): {status, checks}"),
                            ["503"] = Answer("Unhealthy: the primary database does not answer; Retry-After"),
                        },
                    },
                },
            };
            return Task.CompletedTask;
        }));

    /// <summary>Liveness's answer.</summary>
    public sealed record HealthStatusBody(string Status);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerOptions.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

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
                ageMs = e.Value.Data.GetValueOrDefault("ageMs"),
                durationMs = e.Value.Data.GetValueOrDefault("probeMs"),
                lagSeconds = e.Value.Data.GetValueOrDefault("lagSeconds"),
            }),
        };
        return JsonSerializer.SerializeAsync(http.Response.Body, body, Json, http.RequestAborted);
    }
}
