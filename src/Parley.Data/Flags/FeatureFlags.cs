using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Parley.Data.Flags;

/// <summary>A runtime flag: on or off, and for what share of users (sticky per user).</summary>
public sealed record FeatureFlag(string Name, bool Enabled, int Percentage, DateTime UpdatedAt);

/// <summary>The flags Parley reads. Unknown names may be stored too; they simply have no effect.</summary>
public static class FlagNames
{
    public const string HistoryReplica = "message.history.replica.enabled";
    public const string ListReplica = "conversation.list.replica.enabled";
    public const string HistoryCache = "message.history.cache.enabled";
    public const string ListCache = "conversation.list.cache.enabled";
}

/// <summary>
/// The node's current view of the flags, replaced wholesale on every reload. A flag that is
/// enabled with percentage p is on for a user when the user's bucket (a hash of flag name and
/// user id, 0..99) is below p, so a user stays on one side as p grows.
/// </summary>
public sealed class FeatureFlags(ParleyDatabase db)
{
    public const string Channel = "parley_flags";

    private volatile FrozenDictionary<string, FeatureFlag> _flags = FrozenDictionary<string, FeatureFlag>.Empty;

    public IReadOnlyCollection<FeatureFlag> All => _flags.Values;

    public bool IsEnabled(string name, Guid userId) =>
        _flags.TryGetValue(name, out var flag) && flag.Enabled && Bucket(name, userId) < flag.Percentage;

    public static int Bucket(string name, Guid userId)
    {
        Span<byte> input = stackalloc byte[16 + Encoding.UTF8.GetMaxByteCount(name.Length)];
        userId.TryWriteBytes(input);
        var length = 16 + Encoding.UTF8.GetBytes(name, input[16..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input[..length], hash);
        return (int)(BitConverter.ToUInt32(hash) % 100);
    }

    public async Task ReloadAsync(CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand("SELECT name, enabled, percentage, updated_at FROM feature_flags");
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var flags = new Dictionary<string, FeatureFlag>();
        while (await reader.ReadAsync(ct))
            flags[reader.GetString(0)] = new FeatureFlag(reader.GetString(0), reader.GetBoolean(1), reader.GetInt32(2), reader.GetDateTime(3));
        _flags = flags.ToFrozenDictionary();
    }

    /// <summary>Stores a flag and announces it to every node in the same transaction.</summary>
    public async Task<FeatureFlag> SetAsync(string name, bool enabled, int percentage, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand("""
            WITH saved AS (
                INSERT INTO feature_flags (name, enabled, percentage, updated_at) VALUES ($1, $2, $3, now())
                ON CONFLICT (name) DO UPDATE SET enabled = $2, percentage = $3, updated_at = now()
                RETURNING updated_at)
            SELECT updated_at, pg_notify('parley_flags', $1) FROM saved
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = name });
        cmd.Parameters.Add(new NpgsqlParameter { Value = enabled });
        cmd.Parameters.Add(new NpgsqlParameter { Value = percentage });
        var updated = (DateTime)(await cmd.ExecuteScalarAsync(ct))!;
        await ReloadAsync(ct);
        return new FeatureFlag(name, enabled, percentage, updated);
    }
}
