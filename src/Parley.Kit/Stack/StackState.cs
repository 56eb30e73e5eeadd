using System.Text.Json;
using System.Text.Json.Serialization;

namespace Parley.Kit.Stack;

/// <summary>
/// A snapshot of a running stack, written to <c>&lt;root&gt;/stack.json</c> at start and on every change,
/// and removed when the stack stops. Serialises with System.Text.Json in camelCase.
/// </summary>
/// <param name="RootDirectory">Where stack.json lives.</param>
/// <param name="DataDirectory">Where the component data, sockets and logs live; deleted on stop unless <paramref name="KeepData"/>.</param>
/// <param name="DeleteRootOnStop">True when the root is a temporary directory the stack created.</param>
/// <param name="KeepData">True for a durable stack (<see cref="StackOptions.Durable"/>): a stop keeps the data for the next start.</param>
/// <param name="RunAsPostgres">True when PostgreSQL and PgBouncer run as the <c>postgres</c> user (the stack was started as root).</param>
/// <param name="OwnerPid">The process whose death tears the stack down.</param>
/// <param name="WatchdogPid">The detached watchdog that does so.</param>
/// <param name="SynchronousReplica">Commits wait for the replica (<see cref="StackOptions.SynchronousReplica"/>).</param>
/// <param name="WalArchive">WAL is archived for point-in-time recovery (<see cref="StackOptions.WalArchive"/>).</param>
/// <param name="RedisMaxMemoryMegabytes">Redis <c>maxmemory</c> (<see cref="StackOptions.RedisMaxMemoryMegabytes"/>), so a Redis started again keeps it.</param>
public sealed record StackState(
    string RootDirectory,
    string DataDirectory,
    bool DeleteRootOnStop,
    bool KeepData,
    bool RunAsPostgres,
    int OwnerPid,
    int? WatchdogPid,
    string? PrimaryConnectionString,
    string? ReplicaConnectionString,
    string? PgBouncerConnectionString,
    string? RedisEndpoint,
    IReadOnlyList<StackComponentInfo> Components,
    bool SynchronousReplica = false,
    bool WalArchive = false,
    int RedisMaxMemoryMegabytes = 256)
{
    /// <summary>The options stack.json is written and read with: web defaults (camelCase), enums as camelCase strings.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}

/// <summary>One component in a <see cref="StackState"/>.</summary>
/// <param name="Directory">The component's data directory (PostgreSQL) or working directory.</param>
public sealed record StackComponentInfo(
    StackComponentKind Kind,
    string Name,
    int Port,
    int? Pid,
    StackComponentState State,
    string Directory);
