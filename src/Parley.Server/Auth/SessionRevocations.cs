using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Parley.Data.Users;
using Parley.Server.Http;

namespace Parley.Server.Auth;

/// <summary>
/// Whether an access token's session (<c>sid</c>) was revoked (logout, refresh-token reuse). Each
/// node keeps what it read for <see cref="AuthOptions.SessionCheckSeconds"/>, so a logout reaches
/// the other nodes within that bound and costs one primary read per session and interval, not one
/// per request; the node that revokes knows at once. When the primary cannot answer, sessions
/// count as live and the node stops asking for one interval: revocation waits for the database,
/// requests during an outage do not pay a connect timeout each.
/// </summary>
public sealed partial class SessionRevocations(SessionStore sessions, IOptions<AuthOptions> options, TimeProvider time, ILogger<SessionRevocations> logger) : IDisposable
{
    private readonly MemoryCache _known = new(new MemoryCacheOptions { SizeLimit = 100_000 });
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(options.Value.SessionCheckSeconds);
    private readonly TimeSpan _revokedFor = TimeSpan.FromSeconds(options.Value.AccessTokenLifetimeSeconds);
    private long _unavailableUntil;

    public TimeSpan CheckInterval => _interval;

    public async ValueTask<bool> IsRevokedAsync(Guid sessionId, CancellationToken ct)
    {
        if (_known.TryGetValue(sessionId, out bool revoked)) return revoked;
        var now = time.GetUtcNow().UtcTicks;
        if (now < Interlocked.Read(ref _unavailableUntil)) return false;
        try
        {
            revoked = await sessions.IsRevokedAsync(sessionId, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested && ExceptionProblems.IsUnavailable(e))
        {
            Interlocked.Exchange(ref _unavailableUntil, now + _interval.Ticks);
            LogUnchecked(logger, e.Message);
            return false;
        }
        Remember(sessionId, revoked);
        return revoked;
    }

    /// <summary>This node revoked <paramref name="sessionId"/>: it takes effect here at once.</summary>
    public void Revoked(Guid sessionId) => Remember(sessionId, true);

    // A revocation is final, so it is kept as long as a token of the session can live.
    private void Remember(Guid sessionId, bool revoked) =>
        _known.Set(sessionId, revoked, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = revoked ? _revokedFor : _interval });

    public void Dispose() => _known.Dispose();

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "Session revocation not checked (the primary is unavailable): {Reason}")]
    private static partial void LogUnchecked(ILogger logger, string reason);
}
