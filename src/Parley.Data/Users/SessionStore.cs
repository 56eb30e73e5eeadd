using System.Security.Cryptography;
using System.Text;

namespace Parley.Data.Users;

/// <summary>The outcome of presenting a refresh token.</summary>
public enum RefreshOutcome
{
    /// <summary>The token was current: it is spent and a new one issued in its session.</summary>
    Rotated,

    /// <summary>The token was spent already: its whole session (family) is revoked now.</summary>
    Reused,

    /// <summary>Unknown, expired, or of a revoked session.</summary>
    Invalid,
}

/// <summary>A rotated session: who it belongs to, and its new refresh token's session.</summary>
public sealed record RefreshResult(RefreshOutcome Outcome, Guid SessionId, Guid UserId, string Handle);

/// <summary>
/// Login sessions and their refresh tokens (0006). A token is stored as its SHA-256 only: it is 256
/// random bits, so a fast hash suffices and a database leak yields no usable token.
/// </summary>
public sealed class SessionStore(ParleyDatabase db, TimeProvider time)
{
    // Also drops the user's revoked and expired sessions: a missing session counts as revoked.
    internal const string CreateSql = """
        WITH gone AS (
            DELETE FROM auth_sessions WHERE user_id = $2 AND (revoked_at IS NOT NULL OR expires_at <= $4)),
        s AS (
            INSERT INTO auth_sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $4, $5) RETURNING id)
        INSERT INTO refresh_tokens (token_hash, session_id, created_at) SELECT $3, id, $4 FROM s
        """;

    // Spends a current token of a live session, issues its successor and extends the session, in one statement.
    internal const string RotateSql = """
        WITH spent AS (
            UPDATE refresh_tokens t SET used_at = $3
            FROM auth_sessions s
            WHERE t.token_hash = $1 AND t.used_at IS NULL AND s.id = t.session_id AND s.revoked_at IS NULL AND s.expires_at > $3
            RETURNING t.session_id, s.user_id),
        issued AS (
            INSERT INTO refresh_tokens (token_hash, session_id, created_at) SELECT $2, session_id, $3 FROM spent),
        extended AS (
            UPDATE auth_sessions SET expires_at = $4 WHERE id IN (SELECT session_id FROM spent))
        SELECT spent.session_id, spent.user_id, u.handle FROM spent JOIN users u ON u.id = spent.user_id
        """;

    // Revokes the family of a token: of a spent one only ($3, reuse: someone holds a copy), or of any (logout).
    internal const string RevokeFamilySql = """
        UPDATE auth_sessions SET revoked_at = COALESCE(revoked_at, $2)
        WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1 AND (used_at IS NOT NULL OR NOT $3))
        RETURNING id, user_id
        """;

    internal const string RevokeSql = "UPDATE auth_sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 AND user_id = $3";

    internal const string IsRevokedSql = "SELECT revoked_at IS NOT NULL OR expires_at <= $2 FROM auth_sessions WHERE id = $1";

    /// <summary>A new random refresh token (base64url of 32 bytes).</summary>
    public static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Starts a session for <paramref name="userId"/> with its first refresh token; returns the session id.</summary>
    public async Task<Guid> CreateAsync(Guid userId, string refreshToken, TimeSpan lifetime, CancellationToken ct)
    {
        var now = Clock.UtcNowMs(time);
        var id = Ids.NewId(now);
        await using var cmd = db.Primary.CreateCommand(CreateSql);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = userId });
        cmd.Parameters.Add(new() { Value = Hash(refreshToken) });
        cmd.Parameters.Add(new() { Value = now });
        cmd.Parameters.Add(new() { Value = now + lifetime });
        await cmd.ExecuteNonQueryAsync(ct);
        return id;
    }

    /// <summary>Spends <paramref name="presented"/> for <paramref name="next"/>; a reused token revokes its session.</summary>
    public async Task<RefreshResult> RotateAsync(string presented, string next, TimeSpan lifetime, CancellationToken ct)
    {
        var now = Clock.UtcNowMs(time);
        var hash = Hash(presented);
        await using (var rotate = db.Primary.CreateCommand(RotateSql))
        {
            rotate.Parameters.Add(new() { Value = hash });
            rotate.Parameters.Add(new() { Value = Hash(next) });
            rotate.Parameters.Add(new() { Value = now });
            rotate.Parameters.Add(new() { Value = now + lifetime });
            await using var reader = await rotate.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct)) return new RefreshResult(RefreshOutcome.Rotated, reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2));
        }
        return await RevokeFamilyAsync(hash, spentOnly: true, now, ct) is { } family
            ? new RefreshResult(RefreshOutcome.Reused, family.SessionId, family.UserId, "")
            : new RefreshResult(RefreshOutcome.Invalid, Guid.Empty, Guid.Empty, "");
    }

    /// <summary>Revokes the session of <paramref name="refreshToken"/>, spent or not (logout); null when the token is unknown.</summary>
    public Task<(Guid SessionId, Guid UserId)?> RevokeByTokenAsync(string refreshToken, CancellationToken ct) =>
        RevokeFamilyAsync(Hash(refreshToken), spentOnly: false, Clock.UtcNowMs(time), ct);

    private async Task<(Guid SessionId, Guid UserId)?> RevokeFamilyAsync(byte[] hash, bool spentOnly, DateTime now, CancellationToken ct)
    {
        await using var revoke = db.Primary.CreateCommand(RevokeFamilySql);
        revoke.Parameters.Add(new() { Value = hash });
        revoke.Parameters.Add(new() { Value = now });
        revoke.Parameters.Add(new() { Value = spentOnly });
        await using var revoked = await revoke.ExecuteReaderAsync(ct);
        return await revoked.ReadAsync(ct) ? (revoked.GetGuid(0), revoked.GetGuid(1)) : null;
    }

    /// <summary>Revokes <paramref name="userId"/>'s session <paramref name="sessionId"/> (logout); idempotent.</summary>
    public async Task RevokeAsync(Guid sessionId, Guid userId, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(RevokeSql);
        cmd.Parameters.Add(new() { Value = sessionId });
        cmd.Parameters.Add(new() { Value = Clock.UtcNowMs(time) });
        cmd.Parameters.Add(new() { Value = userId });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>True when the session is revoked, expired or gone (its user deleted).</summary>
    public async Task<bool> IsRevokedAsync(Guid sessionId, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(IsRevokedSql);
        cmd.Parameters.Add(new() { Value = sessionId });
        cmd.Parameters.Add(new() { Value = Clock.UtcNowMs(time) });
        return await cmd.ExecuteScalarAsync(ct) is not false;
    }

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
