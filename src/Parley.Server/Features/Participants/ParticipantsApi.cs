using System.Security.Claims;
using Parley.Data;
using Parley.Data.Conversations;
using Parley.Server.Auth;
using Parley.Server.Writes;
using Parley.Server.Http;

namespace Parley.Server.Features.Participants;

public sealed record AddParticipantRequest(Guid? UserId);

public static class ParticipantsApi
{
    public static IEndpointRouteBuilder MapParticipantsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/conversations/{id:guid}/participants").RequireAuthorization().MayAnswer(401, 403, 404);
        group.MapGet("/", List).Produces<ItemList<ParticipantRecord>>();
        group.MapPost("/", Add).Produces<ParticipantRecord>(StatusCodes.Status201Created).MayAnswer(400, 409);
        group.MapDelete("/{userId:guid}", Remove).Produces(StatusCodes.Status204NoContent);
        return app;
    }

    public static async Task<IResult> List(Guid id, ClaimsPrincipal user, ConversationStore store, CancellationToken ct) =>
        Problems.From(await store.ListParticipantsAsync(id, user.UserId(), ct), items => TypedResults.Ok(new ItemList<ParticipantRecord>(items)));

    public static async Task<IResult> Add(Guid id, AddParticipantRequest request, ClaimsPrincipal user, ConversationStore store, AfterCommit afterCommit, CancellationToken ct)
    {
        if (request.UserId is not { } newUser)
            return Problems.Validation("userId", "userId is required.");
        var outcome = await store.AddParticipantAsync(id, user.UserId(), newUser, ct);
        if (outcome.Status == Parley.Data.OutcomeStatus.Ok) await afterCommit.RunAsync(WriteChange.Membership(id), ct);
        return Problems.From(outcome, p => TypedResults.Created($"/v1/conversations/{id}/participants/{p.UserId}", p));
    }

    public static async Task<IResult> Remove(Guid id, Guid userId, ClaimsPrincipal user, ConversationStore store, AfterCommit afterCommit, CancellationToken ct)
    {
        var outcome = await store.RemoveParticipantAsync(id, user.UserId(), userId, ct);
        if (outcome.Status == Parley.Data.OutcomeStatus.Ok) await afterCommit.RunAsync(WriteChange.Membership(id, userId), ct);
        return Problems.From(outcome, _ => TypedResults.NoContent());
    }
}
