namespace Parley.Redis;

/// <summary>Raised when a client's connection comes up or goes down.</summary>
public sealed class ConnectionStateChangedEventArgs(bool isConnected, Exception? cause) : EventArgs
{
    /// <summary>True when the connection just came up, false when it just broke.</summary>
    public bool IsConnected { get; } = isConnected;

    /// <summary>Why the connection broke; null when it came up.</summary>
    public Exception? Cause { get; } = cause;
}
