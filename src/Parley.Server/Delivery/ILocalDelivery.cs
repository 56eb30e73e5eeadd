namespace Parley.Server.Delivery;

/// <summary>
/// This node's sockets as the stream consumer hands events to them. Implemented by real-time
/// (<c>Features/Realtime/LocalDelivery.cs</c>), which alone decides who receives an event: delivery only reads the
/// stream, acknowledges it and knows positions and event types, so the dependency runs one way (Realtime → Delivery).
/// </summary>
public interface ILocalDelivery
{
    /// <summary>Queues each event for the local sockets of its audience at this moment; returns the frames queued.</summary>
    Task<long> DeliverAsync(IReadOnlyList<DeliveryEvent> events, CancellationToken ct);

    /// <summary>Tells every local socket <c>resync.required</c> (events were lost with the stream); returns how many were told.</summary>
    int ResyncAll();
}
