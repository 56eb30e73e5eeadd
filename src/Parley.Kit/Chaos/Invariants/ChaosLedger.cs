using System.Collections.Concurrent;
using System.Diagnostics;

namespace Parley.Kit.Chaos.Invariants;

/// <summary>
/// One HTTP request as the client saw it. <see cref="Status"/> 0: no HTTP answer (refused, reset, timed out).
/// <see cref="ServerMs"/> and <see cref="CacheMs"/> are the server's own account (its <c>Server-Timing</c> header), when it gave one.
/// </summary>
public sealed record RequestOutcome(string Operation, int Status, double StartMs, double LatencyMs, bool TimedOut, bool RetryAfter, string? Error, double? ServerMs = null, double? CacheMs = null)
{
    public bool Succeeded => Status is >= 200 and < 300;

    public double EndMs => StartMs + LatencyMs;
}

/// <summary>A message the server answered 201 (or 200 replay) for, with when the send started and ended.</summary>
public sealed record SentMessage(Guid Id, Guid ConversationId, Guid SenderId, string ClientMessageId, double StartMs, double EndMs);

/// <summary>A participant added or removed (or present from the start: times −1).</summary>
public sealed record MembershipChange(Guid ConversationId, Guid UserId, bool Added, double StartMs, double EndMs);

/// <summary>A <c>message.created</c> event a listener received.</summary>
public sealed record Delivery(string ListenerId, Guid UserId, Guid ConversationId, Guid MessageId, string EventId, double AtMs);

/// <summary>
/// Jepsen-style history of a chaos run: every request's outcome, every acknowledged message, every membership change and
/// every delivery, on one monotonic clock (milliseconds since the ledger was created). Thread-safe; append-only.
/// </summary>
public sealed class ChaosLedger
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<RequestOutcome> _requests = new();
    private readonly ConcurrentQueue<SentMessage> _sent = new();
    private readonly ConcurrentQueue<MembershipChange> _membership = new();
    private readonly ConcurrentQueue<Delivery> _deliveries = new();
    private readonly ConcurrentDictionary<string, Guid> _listeners = new();

    public double NowMs => _clock.Elapsed.TotalMilliseconds;

    public IReadOnlyList<RequestOutcome> Requests => [.. _requests];

    public IReadOnlyList<SentMessage> Sent => [.. _sent];

    public IReadOnlyList<MembershipChange> Membership => [.. _membership];

    public IReadOnlyList<Delivery> Deliveries => [.. _deliveries];

    /// <summary>Listener id → the user it listens as.</summary>
    public IReadOnlyDictionary<string, Guid> Listeners => _listeners;

    public int DeliveryCount => _deliveries.Count;

    public void Record(RequestOutcome outcome) => _requests.Enqueue(outcome);

    public void Record(SentMessage message) => _sent.Enqueue(message);

    public void Record(MembershipChange change) => _membership.Enqueue(change);

    public void Record(Delivery delivery) => _deliveries.Enqueue(delivery);

    public void RegisterListener(string listenerId, Guid userId) => _listeners[listenerId] = userId;

    /// <summary>Members from the start of the run.</summary>
    public void RecordInitialMembers(Guid conversationId, IEnumerable<Guid> userIds)
    {
        foreach (var user in userIds) Record(new MembershipChange(conversationId, user, true, -1, -1));
    }
}
