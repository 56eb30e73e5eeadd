using Parley.Server.Delivery;

namespace Parley.Server.Features.Realtime;

/// <summary>
/// Who receives an event, decided in this one place for live delivery (<see cref="LocalDelivery"/>) and replay
/// (<see cref="RealtimeSession"/>): the participants of its conversation at delivery time, and a removed participant
/// its own removal (and nothing after it).
/// </summary>
public static class Audience
{
    public const string ParticipantRemoved = "participant.removed";

    /// <summary>Whether <paramref name="user"/> receives <paramref name="e"/>; <paramref name="isMember"/>: the user belongs to its conversation now.</summary>
    public static bool Receives(DeliveryEvent e, Guid user, bool isMember) =>
        isMember || (e.Type == ParticipantRemoved && e.SubjectUserId == user);

    /// <summary>
    /// The receivers of <paramref name="e"/> among this node's users: <paramref name="members"/> (those of them in its
    /// conversation now, null for none), and a removed subject that is not among them.
    /// </summary>
    public static IEnumerable<Guid> Of(DeliveryEvent e, IReadOnlyCollection<Guid>? members)
    {
        members ??= [];
        foreach (var user in members) yield return user;
        if (e.SubjectUserId is { } subject && !members.Contains(subject) && Receives(e, subject, isMember: false)) yield return subject;
    }
}
