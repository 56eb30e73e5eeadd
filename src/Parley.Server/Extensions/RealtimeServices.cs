using Parley.Data.Outbox;
using Parley.Server.Delivery;
using Parley.Server.Features.Realtime;

namespace Parley.Server.Extensions;

/// <summary>Real-time delivery: outbox dispatcher, event stream, this node's consumer, and <c>/v1/ws</c>.</summary>
public static class RealtimeServices
{
    public static WebApplicationBuilder AddParleyRealtime(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddParleyOptions<DeliveryOptions>().ValidateDataAnnotations().ValidateOnStart();
        services.AddParleyOptions<NodeOptions>();
        services.AddSingleton<OutboxStore>();
        services.AddSingleton<DeadLetterStore>(sp => new DeadLetterStore(sp.GetRequiredService<Parley.Data.ParleyDatabase>()));
        services.AddSingleton<RecipientStore>();
        services.AddSingleton<EventStream>();
        services.AddSingleton<ConnectionHub>();
        services.AddSingleton<ILocalDelivery, LocalDelivery>();
        services.AddSingleton<StreamConsumer>();
        services.AddHostedService(sp => sp.GetRequiredService<StreamConsumer>());
        services.AddSingleton<TypingRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<TypingRelay>());
        services.AddSingleton<OutboxDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxDispatcher>());
        return builder;
    }

    public static WebApplication MapRealtimeApi(this WebApplication app)
    {
        app.UseWebSockets();
        app.MapRealtimeEndpoints();
        return app;
    }
}
