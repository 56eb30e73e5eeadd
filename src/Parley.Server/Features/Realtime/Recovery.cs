using Parley.Server.Delivery;

namespace Parley.Server.Features.Realtime;

/// <summary>What the server knows about the event stream when a client resumes.</summary>
/// <param name="Epoch">The first id written since the stream was (re)created, or null when nothing was
/// written yet. Redis runs without persistence, so a restart starts a new epoch and older ids mean nothing.</param>
/// <param name="LastGenerated">The highest id ever added (<c>last-generated-id</c>).</param>
/// <param name="MaxDeleted">The highest id trimmed away by retention (<c>max-deleted-entry-id</c>).</param>
public readonly record struct StreamState(StreamId? Epoch, StreamId LastGenerated, StreamId MaxDeleted);

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
/// <item>retention has not trimmed anything newer than <c>since</c> (<c>since ≥ max-deleted-entry-id</c>).</item>
/// </list>
/// </summary>
public static class Recovery
{
    public static RecoveryDecision Decide(StreamId since, StreamState stream)
    {
        if (since > stream.LastGenerated) return RecoveryDecision.ResyncRequired;
        if (stream.Epoch is not { } epoch)
            return since == StreamId.Zero && stream.LastGenerated == StreamId.Zero ? RecoveryDecision.Replay : RecoveryDecision.ResyncRequired;
        if (since < epoch) return RecoveryDecision.ResyncRequired;
        if (since < stream.MaxDeleted) return RecoveryDecision.ResyncRequired;
        return RecoveryDecision.Replay;
    }
}
