using Parley.Server.Delivery;

namespace Parley.Server.Features.Realtime;

/// <summary>The outcome of <see cref="Recovery.Decide"/>.</summary>
public enum RecoveryDecision
{
    /// <summary>Every event after <c>since</c> is still in the stream: replay them, then go live.</summary>
    Replay,

    /// <summary>Events after <c>since</c> may be gone: send <c>resync.required</c>, then go live.</summary>
    ResyncRequired,
}

/// <summary>
/// The resume decision as a pure function (after centrifuge's <c>isStreamRecovered</c>). A replay is
/// exact only when no entry newer than <c>since</c> has been lost:
/// <list type="bullet">
/// <item><c>since</c> is not ahead of the stream (an id from a lost epoch, or made up);</item>
/// <item><c>since</c> belongs to the current epoch (at or after its first id);</item>
/// <item>retention has not trimmed anything after <c>since</c>: <c>since</c> is at or after the oldest
/// entry still held (conservative: when <c>since</c> is older, the trimmed entries may have followed it);</item>
/// <item>nothing after <c>since</c> was deleted (<c>since ≥ max-deleted-entry-id</c>).</item>
/// </list>
/// </summary>
public static class Recovery
{
    public static RecoveryDecision Decide(StreamId since, StreamState stream)
    {
        if (since > stream.LastGenerated) return RecoveryDecision.ResyncRequired;
        if (stream.Epoch is not { } epoch)
            return since == StreamId.Zero && stream.LastGenerated == StreamId.Zero ? RecoveryDecision.Replay : RecoveryDecision.ResyncRequired;
        if (since < epoch || since < stream.MaxDeleted) return RecoveryDecision.ResyncRequired;
        // An empty stream holds nothing after since only when since is the last id ever written.
        if (stream.First is not { } first) return since == stream.LastGenerated ? RecoveryDecision.Replay : RecoveryDecision.ResyncRequired;
        return since >= first ? RecoveryDecision.Replay : RecoveryDecision.ResyncRequired;
    }
}
