using Npgsql;

namespace Parley.Kit.Chaos.Faults;

/// <summary>Pauses WAL replay on a replica (<c>pg_wal_replay_pause()</c>) so it falls behind; removing resumes it.</summary>
public sealed class ReplicaReplayPause(string replicaConnectionString) : IFault
{
    public string Description => "replica WAL replay paused";

    public Task InjectAsync(CancellationToken ct = default) => Sql.ExecuteAsync(replicaConnectionString, "SELECT pg_wal_replay_pause()", ct);

    public Task RemoveAsync(CancellationToken ct = default) => Sql.ExecuteAsync(replicaConnectionString, "SELECT pg_wal_replay_resume()", ct);
}

/// <summary>
/// Sessions that each run <c>pg_sleep</c> in a loop until the fault is removed: <see cref="PoolSaturation"/> (holders
/// occupying a pool's connections) and <see cref="SlowQueryStorm"/> (expensive queries beside normal traffic).
/// </summary>
public class SleepingSessions(string connectionString, int sessions, TimeSpan sleep, string label) : IFault
{
    private readonly List<Task> _sessions = [];
    private CancellationTokenSource? _stop;

    public virtual string Description => $"{sessions} × pg_sleep({sleep.TotalSeconds:0.#}) {label}";

    /// <summary>Statements that ran to completion.</summary>
    public int Completed => Volatile.Read(ref _completed);

    private int _completed;

    public Task InjectAsync(CancellationToken ct = default)
    {
        _stop = new CancellationTokenSource();
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            Timeout = 15,
            CommandTimeout = (int)Math.Ceiling(sleep.TotalSeconds) + 30,
            ApplicationName = "parley-chaos",
        };
        for (var i = 0; i < sessions; i++)
            _sessions.Add(Task.Run(() => SleepLoopAsync(builder.ConnectionString, _stop.Token), CancellationToken.None));
        return Task.CompletedTask;
    }

    public async Task RemoveAsync(CancellationToken ct = default)
    {
        if (_stop is null) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_sessions).WaitAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _sessions.Clear();
        _stop.Dispose();
        _stop = null;
    }

    private async Task SleepLoopAsync(string connection, CancellationToken stop)
    {
        // Bounded: ends when the fault is removed; each statement ends by itself after `sleep`, or is cancelled.
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var session = new NpgsqlConnection(connection);
                await session.OpenAsync(stop).ConfigureAwait(false);
                while (!stop.IsCancellationRequested)
                {
                    await using var command = new NpgsqlCommand("SELECT pg_sleep(@s)", session);
                    command.Parameters.AddWithValue("s", sleep.TotalSeconds);
                    await command.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                    Interlocked.Increment(ref _completed);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Holders that keep a pool's connections busy (the seed: 2 × pool size long-running queries).</summary>
public sealed class PoolSaturation(string connectionString, int holders, TimeSpan hold)
    : SleepingSessions(connectionString, holders, hold, "holders");

/// <summary>The seed's slow-query storm: 10 concurrent <c>pg_sleep(10)</c> by default.</summary>
public sealed class SlowQueryStorm(string connectionString, int queries = 10, TimeSpan? each = null)
    : SleepingSessions(connectionString, queries, each ?? TimeSpan.FromSeconds(10), "slow queries");

/// <summary><c>CLIENT PAUSE ms ALL</c>: Redis stops answering every client for a while (or until removed: <c>CLIENT UNPAUSE</c>).</summary>
public sealed class RedisClientPause(string redisEndpoint, TimeSpan duration) : IFault
{
    public string Description => $"redis CLIENT PAUSE {duration.TotalMilliseconds:0} ms";

    public Task InjectAsync(CancellationToken ct = default) =>
        RedisCommand.SendAsync(redisEndpoint, ["CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), "ALL"], TimeSpan.FromSeconds(5), ct);

    public Task RemoveAsync(CancellationToken ct = default) => RedisCommand.SendAsync(redisEndpoint, ["CLIENT", "UNPAUSE"], TimeSpan.FromSeconds(5), ct);
}

/// <summary>Several faults at once, injected in order and removed in reverse.</summary>
public sealed class CombinedFault(params IFault[] faults) : IFault
{
    public string Description => string.Join(" + ", faults.Select(f => f.Description));

    public async Task InjectAsync(CancellationToken ct = default)
    {
        foreach (var fault in faults) await fault.InjectAsync(ct).ConfigureAwait(false);
    }

    public async Task RemoveAsync(CancellationToken ct = default)
    {
        foreach (var fault in faults.Reverse()) await fault.RemoveAsync(ct).ConfigureAwait(false);
    }
}

internal static class Sql
{
    public static async Task ExecuteAsync(string connectionString, string sql, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 10, CommandTimeout = 60 };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
