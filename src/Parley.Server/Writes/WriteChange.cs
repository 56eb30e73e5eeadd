namespace Parley.Server.Writes;

/// <summary>What a committed write changed, as its side effects need to know (<see cref="AfterCommit"/>).</summary>
public enum WriteScope
{
    /// <summary>Nothing new was stored (an idempotent replay).</summary>
    None,

    /// <summary>A conversation's content (a message, its title): its history and every participant's list.</summary>
    Conversation,

    /// <summary>Who belongs to a conversation (a participant added or removed, the conversation deleted): as above, and every node's participant sets.</summary>
    Membership,

    /// <summary>Only some users' conversation lists (a read marker, a new conversation).</summary>
    Users,
}

/// <param name="Scope">What changed.</param>
/// <param name="ConversationId">The conversation, for <see cref="WriteScope.Conversation"/> and <see cref="WriteScope.Membership"/>.</param>
/// <param name="Users">Users whose lists changed besides the conversation's current participants (a removed one).</param>
/// <param name="Event">The write committed an outbox row (or, for a replay, its first attempt did): the dispatcher should run now.</param>
public sealed record WriteChange(WriteScope Scope, Guid ConversationId, IReadOnlyList<Guid> Users, bool Event)
{
    /// <summary>A message sent or a title changed; its event is in the outbox.</summary>
    public static WriteChange Conversation(Guid conversationId) => new(WriteScope.Conversation, conversationId, [], Event: true);

    /// <summary>A participant added or removed (<paramref name="alsoUsers"/>: the removed one), or the conversation deleted; its event is in the outbox.</summary>
    public static WriteChange Membership(Guid conversationId, params Guid[] alsoUsers) => new(WriteScope.Membership, conversationId, alsoUsers, Event: true);

    /// <summary>Only these users' lists changed; no event.</summary>
    public static WriteChange UsersOnly(IReadOnlyList<Guid> users) => new(WriteScope.Users, Guid.Empty, users, Event: false);

    /// <summary>A send answered from its first attempt: nothing changed now, but that attempt's event may still wait in the outbox.</summary>
    public static WriteChange Replay(Guid conversationId) => new(WriteScope.None, conversationId, [], Event: true);
}
