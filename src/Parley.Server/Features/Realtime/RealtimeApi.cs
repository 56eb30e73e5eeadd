using System.Buffers.Text;
using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Parley.Data.Outbox;
using Parley.Redis;
using Parley.Server.Auth;
using Parley.Server.Delivery;
using Parley.Server.Http;

namespace Parley.Server.Features.Realtime;

/// <summary><c>GET /v1/ws</c>: authenticate, accept, register for live events, replay from <c>since</c>, go live.</summary>
public static partial class RealtimeApi
{
    private const int ReplayBatch = 500;

    public static IEndpointRouteBuilder MapRealtimeEndpoints(this IEndpointRouteBuilder app)
    {
        // 101 Switching Protocols on success; the socket's frames are API.md's, outside OpenAPI.
        app.MapGet("/v1/ws", Connect).RequireAuthorization().Produces(StatusCodes.Status101SwitchingProtocols).MayAnswer(400, 401);
        return app;
    }

    public static async Task<IResult> Connect(
        HttpContext http, ClaimsPrincipal user, string? since, ConnectionHub hub, EventStream stream, RecipientStore recipients,
        SessionRevocations revocations, TypingRelay typing, IOptions<DeliveryOptions> options, IHostApplicationLifetime lifetime, TimeProvider time,
        ILoggerFactory loggers)
    {
        if (!http.WebSockets.IsWebSocketRequest)
            return Problems.Status(StatusCodes.Status400BadRequest, "WebSocket upgrade required", "Connect to /v1/ws with a WebSocket client.");
        StreamId? from = null;
        if (since is not null)
        {
            if (!StreamId.TryParse(since, out var parsed))
                return Problems.Validation("since", "since must be an eventId received earlier (<ms>-<seq>).");
            from = parsed;
        }
        var o = options.Value;
        using var socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            KeepAliveInterval = o.KeepAliveInterval,
            KeepAliveTimeout = o.KeepAliveTimeout,
        });
        var connection = new RealtimeConnection(user.UserId(), user.SessionId(), socket, o.SendQueueCapacity, time, typing.Typing);
        // Registered before the replay, so nothing published meanwhile is missed; the overlap is
        // removed by eventId (TryGoLive).
        hub.Register(connection, o.MaxSocketsPerUser);
        var watch = WatchTokenAsync(connection, user.TokenExpires(), revocations, time);
        DeliveryMetrics.ConnectionOpened();
        var code = CloseCodes.InternalError;
        try
        {
            code = await connection.RunAsync(async (c, ct) =>
            {
                try
                {
                    await ReplayAsync(c, from, stream, recipients, o, ct);
                }
                catch (Exception e) when (!c.IsClosing && e is not WebSocketException)
                {
                    // The socket closes with 1011 (reconnect with since); without this line nobody learns why.
                    LogReplayFailed(loggers.CreateLogger(typeof(RealtimeApi)), e.GetType().Name, e.Message, e);
                    throw;
                }
            }, lifetime.ApplicationStopping);
        }
        finally
        {
            await watch;
            hub.Unregister(connection);
            DeliveryMetrics.ConnectionClosed();
            DeliveryMetrics.SocketsClosed.Add(1, new KeyValuePair<string, object?>("reason", CloseCodes.Reason(code)));
        }
        return Results.Empty;
    }

    /// <summary>
    /// A socket lives no longer than its access token: closed with <see cref="CloseCodes.TokenExpired"/>
    /// when it expires, with <see cref="CloseCodes.SessionRevoked"/> within one session check of a logout
    /// on another node (this node's logout closes it at once, see <see cref="ConnectionHub.CloseSession"/>).
    /// </summary>
    private static async Task WatchTokenAsync(RealtimeConnection connection, DateTimeOffset expires, SessionRevocations revocations, TimeProvider time)
    {
        try
        {
            while (!connection.IsClosing)
            {
                var left = expires - time.GetUtcNow();
                if (left <= TimeSpan.Zero)
                {
                    connection.RequestClose(CloseCodes.TokenExpired);
                    return;
                }
                await Task.Delay(left < revocations.CheckInterval ? left : revocations.CheckInterval, time, connection.Closing);
                if (await revocations.IsRevokedAsync(connection.SessionId, connection.Closing))
                    connection.RequestClose(CloseCodes.SessionRevoked);
            }
        }
        catch (OperationCanceledException)
        {
            // the socket closed
        }
    }

    /// <summary>
    /// Replays what followed <paramref name="since"/> for this user, oldest first. Entries are matched
    /// on their raw conversation field, so other users' entries are never parsed or rebuilt; the
    /// replay reads at most <see cref="DeliveryOptions.ReplayMaxEntries"/> entries and
    /// <see cref="DeliveryOptions.ReplayMaxBytes"/> bytes of the stream, and past either bound tells the
    /// client <c>resync.required</c> (it catches up over REST) instead of going on.
    /// </summary>
    private static async Task ReplayAsync(
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
                        && (conversations.Contains(e.ConversationId) || (e.Type == "participant.removed" && e.SubjectUserId == connection.UserId)))
                        await connection.SendDirectAsync(e.Frame, ct);
                }
                if (entries.Count < ReplayBatch) break;
            }
        }
        while (!connection.TryGoLive(last));
    }

    // One of the user's conversations, or a removal (which also reaches the removed user): decided on the raw fields.
    private static bool MayConcern(StreamEntry entry, HashSet<Guid> conversations) =>
        (entry[EventStream.ConversationField] is { } c && Utf8Parser.TryParse(c.Span, out Guid conversation, out _) && conversations.Contains(conversation))
        || (entry[EventStream.TypeField] is { } type && type.Span.SequenceEqual("participant.removed"u8));

    private static async Task ResyncAsync(RealtimeConnection connection, string reason, CancellationToken ct)
    {
        await connection.SendDirectAsync(OutgoingFrame.ResyncRequired.Frame, ct);
        DeliveryMetrics.ResyncsSent.Add(1, new KeyValuePair<string, object?>("reason", reason));
        // A queue overflow before this point only emptied the queue (the client catches up anyway); the second call goes live.
        if (!connection.TryGoLive(StreamId.Zero)) connection.TryGoLive(StreamId.Zero);
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Replay of a connecting socket failed ({Type}: {Reason}); closing it with 1011 so the client reconnects with since")]
    private static partial void LogReplayFailed(ILogger logger, string type, string reason, Exception exception);
}
