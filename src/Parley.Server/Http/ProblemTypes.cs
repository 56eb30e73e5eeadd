namespace Parley.Server.Http;

/// <summary>
/// Parley's own problem <c>type</c>s, for errors a client tells apart by more than the status
/// (README "Errors"). Statuses without one use RFC 9110's, or <c>about:blank</c>.
/// </summary>
public static class ProblemTypes
{
    /// <summary>422: a <c>clientMessageId</c> sent again with a different body; <c>messageId</c> names the stored message.</summary>
    public const string ClientMessageIdReused = "urn:parley:problem:client-message-id-reused";

    /// <summary>429: the user's send rate (<c>Parley:SendRate</c>) is spent; <c>Retry-After</c> says when to try again.</summary>
    public const string SendRateLimited = "urn:parley:problem:send-rate-limited";

    /// <summary>503: the node is at its admission limit (<c>Parley:Admission</c>); <c>Retry-After</c> says when to try again.</summary>
    public const string Overloaded = "urn:parley:problem:overloaded";
}
