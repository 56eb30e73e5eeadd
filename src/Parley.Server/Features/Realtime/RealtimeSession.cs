using System.Buffers.Text;
using Parley.Data.Outbox;
using Parley.Redis;
using Parley.Server.Delivery;

namespace Parley.Server.Features.Realtime;

/// <summary>
/// One client's session on its socket: the replay from <c>since</c> (or <c>resync.required</c>) and the switch to live
/// delivery, with the <see cref="Audience"/> rule live delivery uses too. The transport is <see cref="RealtimeConnection"/>;
/// the node's sockets are in the <see cref="ConnectionHub"/>.
/// </summary>
public static class RealtimeSession
{
    private const int ReplayBatch = 500;

    private static ReadOnlySpan<byte> RemovedUtf8 => "participant.removed"u8;

    /// <summary>
    /// Replays what followed <paramref name="since"/> for this user, oldest first. Entries are matched
    /// on their raw conversation field, so other users' entries are never parsed or rebuilt; the
    /// replay reads at most <see cref="DeliveryOptions.ReplayMaxEntries"/> entries and
    /// <see cref="DeliveryOptions.ReplayMaxBytes"/> bytes of the stream, and past either bound tells the
    /// client <c>resync.required</c> (it catches up over REST) instead of going on.
    /// </summary>
    public static async Task ReplayThenGoLiveAsync(
        RealtimeConnection connection, StreamId? since, EventStream stream, RecipientStore recipients, DeliveryOptions options, CancellationToken ct)
    {
        if (since is not { } position)
        {
            connection.TryGoLive(StreamId.Zero);
            return;
        }
        var state = await stream.GetStateAsync(ct);
        if (Recovery.Decide(position, state) == RecoveryDecision.ResyncRequired)
        {
            await ResyncAsync(connection, "since_not_held", ct);
            return;
        }
        var last = position;
        long entriesLeft = options.ReplayMaxEntries, bytesLeft = options.ReplayMaxBytes;
        do
        {
            while (true)
            {
                var entries = await stream.ReadAfterAsync(last, ReplayBatch, ct);
                // Membership as of this batch, like live delivery: a conversation the user joined
                // (or was created into) while replaying counts, one it left no longer does.
                var conversations = await recipients.ConversationsOfAsync(connection.UserId, ct);
                foreach (var entry in entries)
                {
                    bytesLeft -= entry.Fields.Sum(f => f.Value.Length);
                    if (--entriesLeft < 0 || bytesLeft < 0)
                    {
                        await ResyncAsync(connection, "replay_bound", ct);
                        return;
                    }
                    if (StreamId.TryParse(entry.Id, out var id)) last = id;
                    if (MayConcern(entry, conversations) && DeliveryEvent.FromEntry(entry) is { } e
                        && Audience.Receives(e, connection.UserId, conversations.Contains(e.ConversationId)))
                        await connection.SendDirectAsync(e.Frame, ct);
                }
                if (entries.Count < ReplayBatch) break;
            }
        }
        while (!connection.TryGoLive(last));
    }

    // One of the user's conversations, or a removal (which also reaches the removed user): decided on the raw fields,
    // a superset of the Audience, which decides on the parsed event.
    private static bool MayConcern(StreamEntry entry, HashSet<Guid> conversations) =>
        (entry[EventStream.ConversationField] is { } c && Utf8Parser.TryParse(c.Span, out Guid conversation, out _) && conversations.Contains(conversation))
        || (entry[EventStream.TypeField] is { } type && type.Span.SequenceEqual(RemovedUtf8));

    private static async Task ResyncAsync(RealtimeConnection connection, string reason, CancellationToken ct)
    {
        await connection.SendDirectAsync(OutgoingFrame.ResyncRequired.Frame, ct);
        DeliveryMetrics.ResyncsSent.Add(1, new KeyValuePair<string, object?>("reason", reason));
        // A queue overflow before this point only emptied the queue (the client catches up anyway); the second call goes live.
        if (!connection.TryGoLive(StreamId.Zero)) connection.TryGoLive(StreamId.Zero);
    }
}
