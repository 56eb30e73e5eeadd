using System.Security.Cryptography;
using Npgsql;
using Parley.Data;
using Parley.Data.Migrations;
using Parley.Data.Users;
using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Nodes;
using Parley.Kit.Stack;

namespace Parley.Kit.Chaos.Scenarios;

/// <summary>
/// What chaos scenarios share: a local stack behind fault proxies, migrated, with a signing key and an admin. Each scenario
/// starts its own Parley node processes on it (with the settings it needs) and leaves the stack healed (<see cref="HealAsync"/>).
/// </summary>
public sealed class ChaosEnvironment : IAsyncDisposable
{
    public const string AdminHandle = "chaos_admin";

    private readonly int _primaryPort;

    private ChaosEnvironment(ChaosStack chaos, IProgress<string>? progress)
    {
        Chaos = chaos;
        Progress = progress;
        _primaryPort = chaos.Stack.Primary.Port;
    }

    public ChaosStack Chaos { get; }

    public LocalStack Stack => Chaos.Stack;

    public IProgress<string>? Progress { get; }

    public string SigningKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static Task<ChaosEnvironment> StartAsync(IProgress<string>? progress = null, CancellationToken ct = default) =>
        StartAsync(new StackOptions(), progress, ct);

    /// <summary>As <see cref="StartAsync(IProgress{string}?, CancellationToken)"/>, on a stack with <paramref name="stackOptions"/> (e.g. with Prometheus).</summary>
    public static async Task<ChaosEnvironment> StartAsync(StackOptions stackOptions, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var chaos = await ChaosStack.StartAsync(stackOptions, progress, ct).ConfigureAwait(false);
        try
        {
            await using (var source = NpgsqlDataSource.Create(chaos.Stack.PrimaryConnectionString))
                await Migrator.MigrateAsync(source, ct: ct).ConfigureAwait(false);
            await using (var db = new ParleyDatabase(DataOptions.ForTool(chaos.Stack.PrimaryConnectionString)))
                await new AdminRoles(db).GrantAsync(AdminHandle, holdUntilRegistered: true, ct).ConfigureAwait(false);
            return new ChaosEnvironment(chaos, progress);
        }
        catch
        {
            await chaos.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Settings for a node that reaches every dependency through its proxy: fast replica probe (lag bound 2 s, probe 0.5 s,
    /// break 1 s) so faults show within seconds. <paramref name="viaPgBouncer"/>: the primary connection goes through PgBouncer.
    /// <paramref name="followFailover"/>: both PostgreSQL servers directly, by the stack's multi-host strings (no proxies, no PgBouncer).
    /// </summary>
    public Dictionary<string, string?> NodeSettings(
        string nodeId, bool viaPgBouncer = false, IReadOnlyDictionary<string, string?>? overrides = null, bool followFailover = false)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Parley:Data:PrimaryConnectionString"] = followFailover ? Stack.FollowingPrimaryConnectionString
                : viaPgBouncer ? Chaos.PgBouncerConnectionString : Chaos.PrimaryConnectionString,
            ["Parley:Data:PgBouncerTransactionMode"] = viaPgBouncer && !followFailover ? "true" : "false",
            ["Parley:Data:ReplicaConnectionString"] = followFailover ? Stack.FollowingReplicaConnectionString : Chaos.ReplicaConnectionString,
            ["Parley:Data:Replica:MaxLagSeconds"] = "2",
            ["Parley:Data:Replica:ProbeIntervalSeconds"] = "0.5",
            ["Parley:Data:Replica:BreakSeconds"] = "1",
            ["Parley:Redis:Endpoint"] = Chaos.RedisEndpoint,
            ["Parley:Auth:SigningKey"] = SigningKey,
            ["Parley:Auth:PasswordHashIterations"] = "1000",
            ["Parley:Auth:FailedLoginsPerHandle"] = "1000",
            ["Parley:Auth:FailedLoginsPerAddress"] = "100000",
            ["Parley:Node:Id"] = nodeId,
            ["Parley:Monitoring:VacuumPollInterval"] = "01:00:00",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        return settings;
    }

    public Task<ParleyNode> StartNodeAsync(string nodeId, IReadOnlyDictionary<string, string?> settings, CancellationToken ct = default) =>
        ParleyNode.StartAsync(nodeId, settings, ct: ct);

    /// <summary>
    /// Removes every proxy fault, starts stopped servers, swaps the roles back after a failover (the proxies point at the first
    /// primary's port) with commits asynchronous again, and resumes WAL replay, so the next scenario starts clean.
    /// </summary>
    public async Task HealAsync(CancellationToken ct = default)
    {
        Chaos.ClearFaults();
        foreach (var component in Stack.Components)
            if (component.State == StackComponentState.Stopped) await component.StartAsync(ct).ConfigureAwait(false);
        if (Stack.Primary.Port != _primaryPort)
            await Stack.FailoverAsync(ct).ConfigureAwait(false);
        if (await Stack.IsSynchronousAsync(ct).ConfigureAwait(false))
            await Stack.SetSynchronousReplicaAsync(false, ct).ConfigureAwait(false);
        try
        {
            await new ReplicaReplayPause(Stack.ReplicaConnectionString!).RemoveAsync(ct).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            // a replica that is still starting resumes replay by itself
        }
        await ((Task)RedisCommand.SendAsync(Stack.RedisEndpoint!, ["CLIENT", "UNPAUSE"], TimeSpan.FromSeconds(5), ct)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public ValueTask DisposeAsync() => Chaos.DisposeAsync();
}
