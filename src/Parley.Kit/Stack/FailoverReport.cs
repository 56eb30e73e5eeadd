namespace Parley.Kit.Stack;

/// <summary>What <see cref="LocalStack.FailoverAsync"/> did.</summary>
/// <param name="PrimaryWasRunning">False when the old primary was already dead (a crash); true when the failover stopped it (a switchover).</param>
/// <param name="PrimaryPort">The new primary's port (the old replica's).</param>
/// <param name="ReplicaPort">The new replica's port (the old primary's).</param>
/// <param name="Promoted">From the start until the promoted server accepted writes.</param>
/// <param name="Total">Until the new replica streamed.</param>
public sealed record FailoverReport(bool PrimaryWasRunning, int PrimaryPort, int ReplicaPort, TimeSpan Promoted, TimeSpan Total);
