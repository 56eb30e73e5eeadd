namespace Parley.Server.Delivery;

/// <summary>What the server knows about the event stream when a client resumes.</summary>
/// <param name="Epoch">The first id written since the stream was (re)created, or null when nothing was
/// written yet. Redis runs without persistence, so a restart starts a new epoch and older ids mean nothing.</param>
/// <param name="First">The oldest entry still held, or null when the stream is empty.</param>
/// <param name="LastGenerated">The highest id ever added (<c>last-generated-id</c>).</param>
/// <param name="MaxDeleted">The highest id removed with XDEL (<c>max-deleted-entry-id</c>; trimming does not move it).</param>
public readonly record struct StreamState(StreamId? Epoch, StreamId? First, StreamId LastGenerated, StreamId MaxDeleted);
