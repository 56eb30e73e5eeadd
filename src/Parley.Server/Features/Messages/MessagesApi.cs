using System.Security.Claims;
using System.Text;
using Parley.Data;
using Parley.Data.Messages;
using Parley.Server.Auth;
using Parley.Server.Caching;
using Parley.Server.Writes;
using Parley.Server.Http;
using Parley.Server.Http.Admission;

namespace Parley.Server.Features.Messages;

public sealed record SendMessageRequest(string? Body, string? ClientMessageId);

public sealed record MarkReadRequest(Guid? MessageId);

public static class MessagesApi
{
    public static IEndpointRouteBuilder MapMessagesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/conversations/{id:guid}").RequireAuthorization().MayAnswer(401, 403, 404);
        // 200: the same clientMessageId again (a replay), with Idempotent-Replay: true; 503: admission control, with Retry-After.
        group.MapPost("/messages", Send).RequireRateLimiting(SendRateLimit.Policy).RequireAdmission("send")
            .Produces<MessageRecord>(StatusCodes.Status201Created).Produces<MessageRecord>().MayAnswer(400, 413, 422, 429, 503);
        group.MapGet("/messages", History).RequireAdmission("history").Produces<Page<MessageRecord>>().MayAnswer(400, 503);
        group.MapPost("/read", MarkRead).Produces(StatusCodes.Status204NoContent).MayAnswer(400);
        return app;
    }

    public static async Task<IResult> Send(Guid id, SendMessageRequest request, ClaimsPrincipal user, MessageStore store, AfterCommit afterCommit, HttpContext http, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Body))
            return Problems.Validation("body", "body must not be empty.");
        if (Encoding.UTF8.GetByteCount(request.Body) > Limits.MessageBodyBytes)
            return Problems.TooLarge($"body is over {Limits.MessageBodyBytes:N0} UTF-8 bytes.");
        if (request.ClientMessageId is { } cmid && (cmid.Length is 0 or > Limits.ClientMessageIdChars))
            return Problems.Validation("clientMessageId", $"clientMessageId must be 1–{Limits.ClientMessageIdChars} characters when given.");
        if (TextInput.Refuse(new("body", request.Body, TextKind.MultiLine), new("clientMessageId", request.ClientMessageId, TextKind.SingleLine)) is { } bad) return bad;
        var outcome = await store.SendAsync(id, user.UserId(), request.Body, request.ClientMessageId, ct);
        if (outcome is { Status: Parley.Data.OutcomeStatus.Ok, Value: { } stored })
            await afterCommit.RunAsync(stored.Replayed ? WriteChange.Replay(id) : WriteChange.Conversation(id), ct);
        return Problems.From(outcome, sent =>
        {
            if (!sent.Replayed)
                return TypedResults.Created($"/v1/conversations/{id}/messages/{sent.Message.Id}", sent.Message);
            // Answering the first message for another text would lose the new one without a word.
            if (!string.Equals(sent.Message.Body, request.Body, StringComparison.Ordinal))
                return Problems.ClientMessageIdReused(sent.Message.Id);
            http.Response.Headers["Idempotent-Replay"] = "true";
            return TypedResults.Ok(sent.Message);
        });
    }

    public static async Task<IResult> History(
        Guid id, int? limit, string? cursor, string? after, ClaimsPrincipal user, CachedReads reads, CancellationToken ct)
    {
        if (Paging.CheckLimit(limit, 50, out var size) is { } invalid) return invalid;
        Guid? afterId = null;
        if (after is not null)
        {
            if (!Guid.TryParse(after, out var parsed))
                return Problems.Validation("after", "after must be a message id (UUID).");
            afterId = parsed;
        }
        return Problems.From(await reads.HistoryAsync(id, user.UserId(), size, cursor, afterId, ct));
    }

    public static async Task<IResult> MarkRead(Guid id, MarkReadRequest request, ClaimsPrincipal user, MessageStore store, AfterCommit afterCommit, CancellationToken ct)
    {
        if (request.MessageId is not { } messageId)
            return Problems.Validation("messageId", "messageId is required.");
        var outcome = await store.MarkReadAsync(id, user.UserId(), messageId, ct);
        if (outcome.Status == Parley.Data.OutcomeStatus.Ok) await afterCommit.RunAsync(WriteChange.UsersOnly([user.UserId()]), ct);
        return Problems.From(outcome, _ => TypedResults.NoContent());
    }
}
