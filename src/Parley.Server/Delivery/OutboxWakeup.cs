namespace Parley.Server.Delivery;

/// <summary>
/// Wakes this node's dispatcher when a write to a conversation has been answered: every such write
/// (send, rename, delete, participant change) committed an outbox row, so its event leaves at once
/// instead of at the next poll. A wake for a write without an event (create, read marker) is a
/// cheap empty round.
/// </summary>
public static class OutboxWakeup
{
    public static IApplicationBuilder UseOutboxWakeup(this IApplicationBuilder app)
    {
        var dispatcher = app.ApplicationServices.GetRequiredService<OutboxDispatcher>();
        return app.Use(async (context, next) =>
        {
            await next(context);
            if (!HttpMethods.IsGet(context.Request.Method)
                && context.Response.StatusCode is >= 200 and < 300
                && context.Request.Path.StartsWithSegments("/v1/conversations"))
                dispatcher.Wake();
        });
    }
}
