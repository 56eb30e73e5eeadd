using Npgsql;

namespace Parley.Server.Tests.Infrastructure;

/// <summary>
/// A conversation row locked FOR UPDATE in an open transaction: a send to that conversation waits on
/// it (its insert's foreign-key check), so a test can hold a send in flight and release it when it chooses.
/// </summary>
public sealed class HeldRowLock : IAsyncDisposable
{
    private readonly NpgsqlDataSource _db;
    private readonly NpgsqlConnection _holder;
    private readonly NpgsqlTransaction _hold;

    private HeldRowLock(NpgsqlDataSource db, NpgsqlConnection holder, NpgsqlTransaction hold) => (_db, _holder, _hold) = (db, holder, hold);

    public static async Task<HeldRowLock> OnConversationAsync(NpgsqlDataSource db, Guid conversationId)
    {
        var holder = await db.OpenConnectionAsync();
        var hold = await holder.BeginTransactionAsync();
        await using var lockRow = new NpgsqlCommand("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", holder, hold);
        lockRow.Parameters.Add(new() { Value = conversationId });
        await lockRow.ExecuteNonQueryAsync();
        return new HeldRowLock(db, holder, hold);
    }

    /// <summary>Waits (bounded) until exactly one statement, whose text starts with <paramref name="sqlPrefix"/>, waits on the lock.</summary>
    public Task WaitForOneBlockedAsync(string sqlPrefix = "") => Eventually.True(async () =>
    {
        await using var cmd = _db.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND starts_with(query, $2)");
        cmd.Parameters.Add(new() { Value = _holder.ProcessID });
        cmd.Parameters.Add(new() { Value = sqlPrefix });
        return (long)(await cmd.ExecuteScalarAsync())! == 1;
    }, "one statement to wait on the held row lock");

    public Task ReleaseAsync() => _hold.RollbackAsync();

    public async ValueTask DisposeAsync()
    {
        await _hold.DisposeAsync();
        await _holder.DisposeAsync();
    }
}
