namespace Parley.Kit.Stack.Internal;

/// <summary>
/// The stack's operations lock: an exclusive open of <c>&lt;root&gt;/stack.lock</c> (.NET takes an flock for FileShare.None on
/// Unix, so it holds across processes). A failover, a recovery, a backup, a prune or a stop holds it while it changes processes
/// and stack.json; the supervisor restarts a component only while it holds it, so it never restarts a primary a failover has
/// just stopped.
/// </summary>
internal static class StackOperationLock
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    public static string PathIn(string rootDirectory) => Path.Combine(rootDirectory, "stack.lock");

    /// <summary>The lock, or null when another operation holds it.</summary>
    public static FileStream? TryAcquire(string rootDirectory)
    {
        try
        {
            return new FileStream(PathIn(rootDirectory), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Waits for the lock (every 0.2 s, at most 3 minutes: longer than a component's start, the longest hold).</summary>
    public static async Task<FileStream> AcquireAsync(string rootDirectory, CancellationToken ct)
    {
        for (var deadline = DateTime.UtcNow + Patience; ; await Task.Delay(200, ct).ConfigureAwait(false))
        {
            if (TryAcquire(rootDirectory) is { } held)
                return held;
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"Another stack operation (a failover, a recovery, a backup, or a component being restarted) has held {PathIn(rootDirectory)} for {Patience.TotalMinutes:0} minutes.");
        }
    }
}
