using Microsoft.Extensions.Options;
using Npgsql;

namespace Parley.Observer.Hosting;

/// <summary>
/// The leader lease of an observer group (<c>observer_leader</c>): taken only when lapsed, each take
/// with a higher term (the fencing token); renewed only while live, by its holder and term.
/// Times are the database's clock, so processes' clocks do not matter.
/// </summary>
public sealed class LeaderLease(ObserverDatabase db, ObserverIdentity identity, IOptions<ObserverOptions> options)
{
    private readonly ObserverOptions _options = options.Value;

    internal const string AcquireSql = """
        INSERT INTO observer_leader AS l (observer, term, holder, holder_pid, holder_host, acquired_at, renewed_at, expires_at)
        VALUES ($1, 1, $2, $3, $4, clock_timestamp(), clock_timestamp(), clock_timestamp() + $5)
        ON CONFLICT (observer) DO UPDATE
        SET term = l.term + 1, holder = excluded.holder, holder_pid = excluded.holder_pid, holder_host = excluded.holder_host,
            acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
        WHERE l.expires_at <= clock_timestamp()
        RETURNING term
        """;

    internal const string RenewSql = """
        UPDATE observer_leader SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + $4
        WHERE observer = $1 AND term = $2 AND holder = $3 AND expires_at > clock_timestamp()
        """;

    internal const string ReleaseSql = "UPDATE observer_leader SET expires_at = clock_timestamp() WHERE observer = $1 AND term = $2 AND holder = $3";

    internal const string InstanceSql = """
        INSERT INTO observer_instances (observer, instance, pid, host, url, role, started_at, seen_at)
        VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), clock_timestamp())
        ON CONFLICT (observer, instance) DO UPDATE SET role = excluded.role, url = excluded.url, seen_at = excluded.seen_at
        """;

    internal const string ForgetInstanceSql = "DELETE FROM observer_instances WHERE observer = $1 AND (instance = $2 OR seen_at < clock_timestamp() - interval '1 hour')";

    /// <summary>The new term when the lease was free (never held or lapsed), else null.</summary>
    public async Task<long?> TryAcquireAsync(CancellationToken ct)
    {
        await using var cmd = db.Source.CreateCommand(AcquireSql);
        cmd.Parameters.Add(new() { Value = _options.Name });
        cmd.Parameters.Add(new() { Value = identity.Instance });
        cmd.Parameters.Add(new() { Value = identity.Pid });
        cmd.Parameters.Add(new() { Value = identity.Host });
        cmd.Parameters.Add(new() { Value = _options.LeaseDuration });
        return await cmd.ExecuteScalarAsync(ct) is long term ? term : null;
    }

    /// <summary>False when the lease lapsed or a newer leader holds it.</summary>
    public async Task<bool> RenewAsync(long term, CancellationToken ct) => await RunAsync(RenewSql, term, ct, _options.LeaseDuration) > 0;

    /// <summary>Ends the lease now (a clean stop), so a standby takes over at its next check.</summary>
    public Task ReleaseAsync(long term, CancellationToken ct) => RunAsync(ReleaseSql, term, ct);

    public async Task HeartbeatAsync(string? url, CancellationToken ct)
    {
        await using var cmd = db.Source.CreateCommand(InstanceSql);
        cmd.Parameters.Add(new() { Value = _options.Name });
        cmd.Parameters.Add(new() { Value = identity.Instance });
        cmd.Parameters.Add(new() { Value = identity.Pid });
        cmd.Parameters.Add(new() { Value = identity.Host });
        cmd.Parameters.Add(new() { Value = (object?)url ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = identity.Role });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Removes this process's row (and rows not seen for an hour).</summary>
    public async Task ForgetAsync(CancellationToken ct)
    {
        await using var cmd = db.Source.CreateCommand(ForgetInstanceSql);
        cmd.Parameters.Add(new() { Value = _options.Name });
        cmd.Parameters.Add(new() { Value = identity.Instance });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private async Task<int> RunAsync(string sql, long term, CancellationToken ct, TimeSpan? lease = null)
    {
        await using var cmd = db.Source.CreateCommand(sql);
        cmd.Parameters.Add(new() { Value = _options.Name });
        cmd.Parameters.Add(new() { Value = term });
        cmd.Parameters.Add(new() { Value = identity.Instance });
        if (lease is { } l) cmd.Parameters.Add(new() { Value = l });
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}
