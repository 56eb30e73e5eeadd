namespace Parley.Data.Users;

/// <summary>The outcome of <see cref="AdminRoles.GrantAsync"/>.</summary>
public enum GrantOutcome
{
    Granted,

    /// <summary>No such user yet; the grant is held for the handle's registration.</summary>
    Held,

    NoSuchUser,
}

/// <summary>The admin role, stored with the user (<c>users.is_admin</c>, 0006) instead of handles in configuration.</summary>
public sealed class AdminRoles(ParleyDatabase db)
{
    internal const string GrantSql = "UPDATE users SET is_admin = true WHERE handle = $1";

    internal const string HoldSql = "INSERT INTO pending_admin_grants (handle) VALUES ($1) ON CONFLICT DO NOTHING";

    // A held grant goes too: revoke means "not an admin", registered or not.
    internal const string RevokeSql = """
        WITH held AS (DELETE FROM pending_admin_grants WHERE handle = $1)
        UPDATE users SET is_admin = false WHERE handle = $1 AND is_admin
        """;

    internal const string IsAdminSql = "SELECT is_admin FROM users WHERE id = $1";

    /// <summary>
    /// Makes <paramref name="handle"/> an admin. A handle nobody registered is refused, or, with
    /// <paramref name="holdUntilRegistered"/> (a stack the operator starts for themself), held for its registration.
    /// </summary>
    public async Task<GrantOutcome> GrantAsync(string handle, bool holdUntilRegistered, CancellationToken ct)
    {
        await using (var grant = db.Primary.CreateCommand(GrantSql))
        {
            grant.Parameters.Add(new() { Value = handle });
            if (await grant.ExecuteNonQueryAsync(ct) == 1) return GrantOutcome.Granted;
        }
        if (!holdUntilRegistered) return GrantOutcome.NoSuchUser;
        await using var hold = db.Primary.CreateCommand(HoldSql);
        hold.Parameters.Add(new() { Value = handle });
        await hold.ExecuteNonQueryAsync(ct);
        return GrantOutcome.Held;
    }

    /// <summary>Takes the role from <paramref name="handle"/>; false when it had none.</summary>
    public async Task<bool> RevokeAsync(string handle, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(RevokeSql);
        cmd.Parameters.Add(new() { Value = handle });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<bool> IsAdminAsync(Guid userId, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(IsAdminSql);
        cmd.Parameters.Add(new() { Value = userId });
        return await cmd.ExecuteScalarAsync(ct) is true;
    }
}
