using Parley.Data.Outbox;
using Parley.Server.Delivery;

namespace Parley.Server.Features.Realtime;

/// <summary>
/// Live delivery on this node: a batch from the stream consumer goes to the sockets in the <see cref="ConnectionHub"/>
/// of each event's <see cref="Audience"/>, membership read from the primary once per batch.
/// </summary>
public sealed class LocalDelivery(ConnectionHub hub, RecipientStore recipients) : ILocalDelivery
{
    public async Task<long> DeliverAsync(IReadOnlyList<DeliveryEvent> events, CancellationToken ct)
    {
        var users = hub.Users();
        if (events.Count == 0 || users.Length == 0) return 0;
        var conversations = events.Select(e => e.ConversationId).Distinct().ToArray();
        var members = await recipients.CurrentMembersAsync(conversations, users, ct);
        long delivered = 0;
        foreach (var e in events)
        {
            var frame = OutgoingFrame.Of(e);
            foreach (var user in Audience.Of(e, members.GetValueOrDefault(e.ConversationId)))
                delivered += Send(user, frame);
        }
        return delivered;
    }

    public int ResyncAll() => hub.All().Count(connection => connection.Enqueue(OutgoingFrame.ResyncRequired));

    private int Send(Guid user, OutgoingFrame frame)
    {
        var sent = 0;
        foreach (var connection in hub.ConnectionsOf(user))
        {
            if (connection.Enqueue(frame)) sent++;
        }
        return sent;
    }
}
