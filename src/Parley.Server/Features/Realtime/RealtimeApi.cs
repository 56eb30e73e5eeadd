using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Parley.Data.Outbox;
using Parley.Redis;
using Parley.Server.Auth;
using Parley.Server.Delivery;
using Parley.Server.Http;

namespace Parley.Server.Features.Realtime;

/// <summary><c>GET /v1/ws</c>: authenticate, accept, register for live events with the <see cref="ConnectionHub"/>, then the <see cref="RealtimeSession"/> (replay from <c>since</c>, go live) over the <see cref="RealtimeConnection"/> transport.</summary>
public static partial class RealtimeApi
{
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
                    await RealtimeSession.ReplayThenGoLiveAsync(c, from, stream, recipients, o, ct);
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

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Replay of a connecting socket failed ({Type}: {Reason}); closing it with 1011 so the client reconnects with since")]
    private static partial void LogReplayFailed(ILogger logger, string type, string reason, Exception exception);
}
