using System.ComponentModel.DataAnnotations;

namespace Parley.Data.Messages;

/// <summary>
/// Group commit of sends (<c>Parley:Data:SendBatch</c>): sends that arrive while a commit is in flight
/// are stored together in the next transaction. Every default is documented on its property.
/// </summary>
public sealed class SendBatchOptions
{
    /// <summary>Messages per transaction at most. Default 128.</summary>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 128;

    /// <summary>
    /// Transactions in flight at once on this node. A conversation always goes through the same
    /// writer, so its sends on one node commit in id order and never wait on each other's row lock.
    /// Default 2 (one batch builds while the other's commit is flushed).
    /// </summary>
    [Range(1, 64)]
    public int Writers { get; set; } = 2;

    /// <summary>Sends queued per writer; past it a send waits for room (within <see cref="Timeout"/>). Default 1,024.</summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>
    /// Longest a send waits to be queued and committed before it is answered 503 with Retry-After.
    /// Default 10 s (above the 5 s statement timeout and the 2 s pool wait).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}
