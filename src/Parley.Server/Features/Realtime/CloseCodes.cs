using System.Net.WebSockets;

namespace Parley.Server.Features.Realtime;

/// <summary>
/// Every close code <c>/v1/ws</c> uses, published in <c>Features/Realtime/README.md</c>. Codes below
/// 4000 are the RFC 6455 ones; 4000–4099 are Parley's. <see cref="ShouldReconnect"/> tells clients
/// what to do next.
/// </summary>
public static class CloseCodes
{
    /// <summary>1000: the client closed, or the server answered its close.</summary>
    public const int Normal = 1000;

    /// <summary>1001: the server is shutting down; reconnect (to any node) with <c>since</c>.</summary>
    public const int GoingAway = 1001;

    /// <summary>1003: the client sent a binary frame; only JSON text frames are accepted.</summary>
    public const int UnsupportedData = 1003;

    /// <summary>1008: the client sent a frame that is not a JSON object with a <c>type</c>.</summary>
    public const int PolicyViolation = 1008;

    /// <summary>1009: a client frame over <see cref="MaxClientFrameBytes"/>.</summary>
    public const int MessageTooBig = 1009;

    /// <summary>1011: an unexpected server error; reconnect with <c>since</c>.</summary>
    public const int InternalError = 1011;

    /// <summary>
    /// 4000: slow consumer. The connection's send queue (<c>Parley:Delivery:SendQueueCapacity</c>,
    /// default 1,024 frames) filled because the client did not read fast enough. Nothing is lost:
    /// reconnect with <c>since</c> = the last eventId processed.
    /// </summary>
    public const int SlowConsumer = 4000;

    /// <summary>4001: the peer did not answer ping frames in time (recorded only; a dead peer gets no close frame).</summary>
    public const int DeadPeer = 4001;

    /// <summary>4002: the access token the socket was opened with expired. Refresh it (<c>POST /v1/auth/refresh</c>) and reconnect with <c>since</c>.</summary>
    public const int TokenExpired = 4002;

    /// <summary>4003: the socket's session was revoked (logout, or a reused refresh token). Log in again; do not reconnect with the old token.</summary>
    public const int SessionRevoked = 4003;

    /// <summary>
    /// 4004: the user opened more than <c>Parley:Delivery:MaxSocketsPerUser</c> (default 20) sockets on
    /// this node; the oldest is closed. Do not reconnect automatically: that would close another.
    /// </summary>
    public const int TooManySockets = 4004;

    /// <summary>Largest frame a client may send (pings are tiny).</summary>
    public const int MaxClientFrameBytes = 4096;

    /// <summary>Whether a client should reconnect (with <c>since</c>) after a close with <paramref name="code"/>.</summary>
    public static bool ShouldReconnect(int code) => code switch
    {
        Normal or UnsupportedData or PolicyViolation or MessageTooBig or SessionRevoked or TooManySockets => false,
        _ => true,
    };

    /// <summary>A short, fixed metric tag for <paramref name="code"/>.</summary>
    public static string Reason(int code) => code switch
    {
        Normal => "normal",
        GoingAway => "shutdown",
        UnsupportedData => "unsupported_data",
        PolicyViolation => "policy_violation",
        MessageTooBig => "too_big",
        InternalError => "internal_error",
        SlowConsumer => "slow_consumer",
        DeadPeer => "dead_peer",
        TokenExpired => "token_expired",
        SessionRevoked => "session_revoked",
        TooManySockets => "too_many_sockets",
        _ => "other",
    };

    internal static WebSocketCloseStatus Status(int code) => (WebSocketCloseStatus)code;
}
