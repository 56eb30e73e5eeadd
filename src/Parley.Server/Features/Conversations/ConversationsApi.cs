using System.Security.Claims;
using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Parley.Data;
using Parley.Data.Conversations;
using Parley.Server.Auth;
using Parley.Server.Caching;
using Parley.Server.Writes;
using Parley.Server.Http;

namespace Parley.Server.Features.Conversations;

public sealed record CreateConversationRequest(string? Title, Guid[]? ParticipantIds);

public sealed record UpdateConversationRequest(string? Title);

public static class ConversationsApi
{
    public static IEndpointRouteBuilder MapConversationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/conversations").RequireAuthorization().MayAnswer(401);
        group.MapPost("/", Create).Produces<ConversationRecord>(StatusCodes.Status201Created).MayAnswer(400);
        group.MapGet("/", List).Produces<Page<ConversationSummaryRecord>>().MayAnswer(400);
        group.MapGet("/{id:guid}", Get).Produces<ConversationRecord>().MayAnswer(403, 404);
        group.MapPatch("/{id:guid}", Update).Produces<ConversationRecord>().MayAnswer(400, 403, 404, 409, 428);
        group.MapDelete("/{id:guid}", Delete).Produces(StatusCodes.Status204NoContent).MayAnswer(403, 404);
        return app;
    }

    public static async Task<IResult> Create(CreateConversationRequest request, ClaimsPrincipal user, ConversationStore store, AfterCommit afterCommit, CancellationToken ct)
    {
        if (request.Title is { Length: > Limits.TitleChars })
            return Problems.Validation("title", $"title must be at most {Limits.TitleChars} characters.");
        if (TextInput.Refuse(new TextField("title", request.Title, TextKind.SingleLine)) is { } bad) return bad;
        if (request.ParticipantIds is { Length: > Limits.ParticipantsPerCreate })
            return Problems.Validation("participantIds", $"At most {Limits.ParticipantsPerCreate} participants at creation.");
        var outcome = await store.CreateAsync(user.UserId(), request.Title, request.ParticipantIds ?? [], ct);
        if (outcome.Status == OutcomeStatus.Invalid)
            return Problems.Validation("participantIds", outcome.Detail!);
        if (outcome.Value is { } created)
            await afterCommit.RunAsync(WriteChange.UsersOnly([.. created.Participants.Select(p => p.UserId)]), ct);
        return Problems.From(outcome, c => WithETag(TypedResults.Created($"/v1/conversations/{c.Id}", c), c));
    }

    public static async Task<IResult> List(int? limit, string? cursor, ClaimsPrincipal user, CachedReads reads, CancellationToken ct)
    {
        if (Paging.CheckLimit(limit, 20, out var size) is { } invalid) return invalid;
        return Problems.From(await reads.ConversationsAsync(user.UserId(), size, cursor, ct));
    }

    public static async Task<IResult> Get(Guid id, ClaimsPrincipal user, ConversationStore store, HttpContext http, CancellationToken ct)
    {
        var outcome = await store.GetAsync(id, user.UserId(), ct);
        return Problems.From(outcome, c => WithETag(TypedResults.Ok(c), c));
    }

    public static async Task<IResult> Update(
        Guid id, UpdateConversationRequest request, [FromHeader(Name = "If-Match")] string? ifMatch,
        ClaimsPrincipal user, ConversationStore store, AfterCommit afterCommit, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(ifMatch))
            return Problems.Status(StatusCodes.Status428PreconditionRequired, "Precondition required", "Send If-Match with the conversation's ETag.");
        if (ParseIfMatch(ifMatch) is not { } versions)
            return Problems.Validation("If-Match", "If-Match must be one or more ETags such as \"3\" (not *).");
        if (request.Title is { Length: > Limits.TitleChars })
            return Problems.Validation("title", $"title must be at most {Limits.TitleChars} characters.");
        if (TextInput.Refuse(new TextField("title", request.Title, TextKind.SingleLine)) is { } bad) return bad;
        var outcome = await store.UpdateTitleAsync(id, user.UserId(), versions, request.Title, ct);
        if (outcome.Status == OutcomeStatus.Ok) await afterCommit.RunAsync(WriteChange.Conversation(id), ct);
        return Problems.From(outcome, c => WithETag(TypedResults.Ok(c), c));
    }

    public static async Task<IResult> Delete(Guid id, ClaimsPrincipal user, ConversationStore store, AfterCommit afterCommit, CancellationToken ct)
    {
        var outcome = await store.DeleteAsync(id, user.UserId(), ct);
        if (outcome.Status == OutcomeStatus.Ok) await afterCommit.RunAsync(WriteChange.Membership(id), ct);
        return Problems.From(outcome, _ => TypedResults.NoContent());
    }

    private static IResult WithETag(IResult inner, ConversationRecord conversation) => new ETagResult(inner, conversation.Version);

    /// <summary>
    /// The versions an If-Match list may match under strong comparison (RFC 9110 §13.1.1): weak tags
    /// never match, nor do strong ones that are not one of our <c>"&lt;version&gt;"</c> tags, so the
    /// list may come back empty (409 stale). Null when the header is malformed, or <c>*</c>: a PATCH
    /// must name the version it read, which is what 428 asks for.
    /// </summary>
    internal static int[]? ParseIfMatch(string value)
    {
        if (!EntityTagHeaderValue.TryParseStrictList([value], out var tags) || tags.Count == 0 || tags.Any(t => t.Equals(EntityTagHeaderValue.Any)))
            return null;
        return [.. tags.Where(t => !t.IsWeak).Select(t => Version(t.Tag.AsSpan(1, t.Tag.Length - 2))).Where(v => v >= 0).Distinct()];

        // Strong comparison is octet by octet: "01" is not the tag "1".
        static int Version(ReadOnlySpan<char> opaque) =>
            int.TryParse(opaque, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && opaque.SequenceEqual(v.ToString(CultureInfo.InvariantCulture)) ? v : -1;
    }

    /// <summary>Adds <c>ETag: "&lt;version&gt;"</c> to another result.</summary>
    private sealed class ETagResult(IResult inner, int version) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.ETag = $"\"{version}\"";
            return inner.ExecuteAsync(httpContext);
        }
    }
}
