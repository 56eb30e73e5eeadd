namespace Parley.Observer.Hosting;

/// <summary>This process as the lease and the queue know it (a fresh id per start, pid and host), and its role now.</summary>
public sealed class ObserverIdentity
{
    public const string Leader = "leader";
    public const string Standby = "standby";

    public string Instance { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    public int Pid { get; } = Environment.ProcessId;

    public string Host { get; } = Environment.MachineName;

    /// <summary><see cref="Leader"/> or <see cref="Standby"/>.</summary>
    public string Role => Term is null ? Standby : Leader;

    /// <summary>The fencing term while this process leads, else null.</summary>
    public long? Term { get; internal set; }

    /// <summary>Since when this process leads.</summary>
    public DateTimeOffset? LeaderSince { get; internal set; }

    /// <summary>True while the leader reads the slot (publications and slot prepared, replication started).</summary>
    public bool Streaming { get; internal set; }

    /// <summary>Wakes this process's workers when its leader enqueued work (others poll).</summary>
    public SemaphoreSlim WorkEnqueued { get; } = new(0, 1);

    public void SignalWork()
    {
        if (WorkEnqueued.CurrentCount == 0)
        {
            try
            {
                WorkEnqueued.Release();
            }
            catch (SemaphoreFullException)
            {
                // already signalled
            }
        }
    }
}
