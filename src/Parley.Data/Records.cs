namespace Parley.Data;

public sealed record UserRecord(Guid Id, string Handle, string DisplayName, DateTime CreatedAt);

public sealed record ParticipantRecord(Guid UserId, string Handle, string Role, DateTime JoinedAt);

public sealed record ConversationRecord(
    Guid Id, string? Title, Guid OwnerId, int Version, DateTime CreatedAt, DateTime UpdatedAt,
    IReadOnlyList<ParticipantRecord> Participants);

public sealed record MessageRecord(
    Guid Id, Guid ConversationId, Guid SenderId, string Body, DateTime CreatedAt, string? ClientMessageId);

public sealed record ConversationSummaryRecord(
    Guid Id, string? Title, DateTime UpdatedAt, MessageRecord? LastMessage, long UnreadCount);

/// <summary>One keyset page. <paramref name="NextCursor"/> is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

public static class Roles
{
    public const string Owner = "owner";
    public const string Member = "member";
}

/// <summary>How a data operation ended, for the API to map onto a status code.</summary>
public enum OutcomeStatus
{
    Ok,
    NotFound,
    Forbidden,
    Conflict,
    Invalid,
}

public readonly record struct Outcome<T>(OutcomeStatus Status, T? Value = default, string? Detail = null)
{
    public static Outcome<T> Ok(T value) => new(OutcomeStatus.Ok, value);

    public static Outcome<T> Fail(OutcomeStatus status, string detail) => new(status, default, detail);

    /// <summary>Carries a failure of another operation over to this result type.</summary>
    public Outcome<TOther> As<TOther>() => new(Status, default, Detail);
}
