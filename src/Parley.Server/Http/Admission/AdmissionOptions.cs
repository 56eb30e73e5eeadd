using System.ComponentModel.DataAnnotations;

namespace Parley.Server.Http.Admission;

/// <summary>
/// Admission control in front of the database-bound endpoints (send, history), bound from
/// <c>Parley:Admission</c>: one concurrency limit per node with a short bounded queue; past it a
/// request is refused at once with 503 and <c>Retry-After</c>. Every default is documented on its property.
/// </summary>
public sealed class AdmissionOptions
{
    public const string Section = "Parley:Admission";

    /// <summary>
    /// Requests served at once on this node. Default 64: what a 64-connection closed-model client
    /// keeps in flight is never refused, and it is past what the 40-connection pool serves at once.
    /// </summary>
    [Range(1, 100_000)]
    public int PermitLimit { get; set; } = 64;

    /// <summary>Requests that may wait for a permit; beyond that 503 at once. Default 64.</summary>
    [Range(0, 100_000)]
    public int QueueLength { get; set; } = 64;

    /// <summary>Longest wait for a permit before 503, in milliseconds. Default 50 (a refusal well within 100 ms).</summary>
    [Range(1, 60_000)]
    public int QueueWaitMilliseconds { get; set; } = 50;

    /// <summary>The <c>Retry-After</c> of a refusal, in seconds. Default 1.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 1;
}
