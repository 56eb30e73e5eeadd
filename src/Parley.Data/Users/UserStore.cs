using Npgsql;

namespace Parley.Data.Users;

/// <summary>A stored credential: the user and the password hash to verify against.</summary>
public sealed record Credential(UserRecord User, string PasswordHash);

public sealed class UserStore(ParleyDatabase db, TimeProvider time)
{
    internal const string InsertSql = """
        WITH held AS (DELETE FROM pending_admin_grants WHERE handle = $2 RETURNING handle)
        INSERT INTO users (id, handle, display_name, password_hash, created_at, is_admin)
        VALUES ($1, $2, $3, $4, $5, EXISTS (SELECT 1 FROM held))
        ON CONFLICT (handle) DO NOTHING
        """;

    internal const string SelectByHandleSql = """
        SELECT id, handle, display_name, created_at, password_hash FROM users WHERE handle = $1
        """;

    internal const string SelectByIdSql = """
        SELECT id, handle, display_name, created_at FROM users WHERE id = $1
        """;

    /// <summary>Creates a user (an admin when a grant was held for its handle); null when the handle is taken.</summary>
    public async Task<UserRecord?> CreateAsync(string handle, string displayName, string passwordHash, CancellationToken ct)
    {
        var now = Clock.UtcNowMs(time);
        var user = new UserRecord(Ids.NewId(now), handle, displayName, now);
        await using var cmd = db.Primary.CreateCommand(InsertSql);
        cmd.Parameters.Add(new() { Value = user.Id });
        cmd.Parameters.Add(new() { Value = handle });
        cmd.Parameters.Add(new() { Value = displayName });
        cmd.Parameters.Add(new() { Value = passwordHash });
        cmd.Parameters.Add(new() { Value = now });
        return await cmd.ExecuteNonQueryAsync(ct) == 1 ? user : null;
    }

    public async Task<Credential?> FindCredentialAsync(string handle, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(SelectByHandleSql);
        cmd.Parameters.Add(new() { Value = handle });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new Credential(ReadUser(reader), reader.GetString(4)) : null;
    }

    public async Task<UserRecord?> FindAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(SelectByIdSql);
        cmd.Parameters.Add(new() { Value = id });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadUser(reader) : null;
    }

    public async Task UpdatePasswordHashAsync(Guid id, string passwordHash, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand("UPDATE users SET password_hash = $2 WHERE id = $1");
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = passwordHash });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static UserRecord ReadUser(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetDateTime(3));
}
