using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Parley.Server.Observability;

namespace Parley.Server.Http.Admission;

/// <summary>Marks an endpoint as database-bound: it is served only within <see cref="AdmissionControl"/>'s limit.</summary>
public sealed record AdmissionControlled(string Endpoint);

/// <summary>
/// One concurrency limit (<see cref="AdmissionOptions"/>) shared by the endpoints marked
/// <see cref="AdmissionControlled"/>, so a node past its capacity refuses the excess at once instead
/// of queueing it in the connection pool and the send batches, where every request would get slow.
/// </summary>
public sealed class AdmissionControl : IDisposable
{
    private static readonly Counter<long> Rejected = ParleyMetrics.Meter.CreateCounter<long>(
        "parley.admission.rejected", "{request}", "Requests refused with 503 by admission control, by endpoint.");

    private readonly BoundedSlots _slots;
    private readonly int _retryAfterSeconds;

    public AdmissionControl(IOptions<AdmissionOptions> options)
    {
        var o = options.Value;
        _slots = new BoundedSlots(o.PermitLimit, o.QueueLength, TimeSpan.FromMilliseconds(o.QueueWaitMilliseconds));
        _retryAfterSeconds = o.RetryAfterSeconds;
    }

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<AdmissionControlled>() is not { } marked)
        {
            await next(http);
            return;
        }
        using var lease = await _slots.EnterAsync(http.RequestAborted);
        if (lease is not null)
        {
            await next(http);
            return;
        }
        Rejected.Add(1, new KeyValuePair<string, object?>("endpoint", marked.Endpoint));
        await Problems.RefuseAsync(http, StatusCodes.Status503ServiceUnavailable, ProblemTypes.Overloaded, "Server busy",
            $"This node is serving as many requests as it can (Parley:Admission); retry in {_retryAfterSeconds} s.", _retryAfterSeconds);
    }

    public void Dispose() => _slots.Dispose();
}

public static class AdmissionExtensions
{
    public static IServiceCollection AddAdmissionControl(this IServiceCollection services)
    {
        services.AddOptions<AdmissionOptions>().BindConfiguration(AdmissionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return services.AddSingleton<AdmissionControl>();
    }

    public static IApplicationBuilder UseAdmissionControl(this IApplicationBuilder app)
    {
        var admission = app.ApplicationServices.GetRequiredService<AdmissionControl>();
        return app.Use((http, next) => admission.InvokeAsync(http, next));
    }

    /// <summary>Serves the endpoint within the node's admission limit; <paramref name="endpoint"/> names it in the rejection metric.</summary>
    public static TBuilder RequireAdmission<TBuilder>(this TBuilder builder, string endpoint) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AdmissionControlled(endpoint));
}
