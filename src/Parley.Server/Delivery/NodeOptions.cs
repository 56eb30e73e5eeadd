namespace Parley.Server.Delivery;

/// <summary>This server node, bound from <c>Parley:Node</c>.</summary>
public sealed class NodeOptions
{
    public const string Section = "Parley:Node";

    /// <summary>
    /// Stable node id; the node's consumer group is <c>node:&lt;id&gt;</c>, so a restarted node finds
    /// its pending entries again. Default: machine name and listening port (set it explicitly when the
    /// port is ephemeral).
    /// </summary>
    public string? Id { get; set; }

    /// <summary>
    /// When set, the node shuts down once the process with this id has exited: a node started by a
    /// supervisor (a test, a chaos run) does not outlive it even when the supervisor is killed.
    /// </summary>
    public int? ExitWithProcess { get; set; }
}
