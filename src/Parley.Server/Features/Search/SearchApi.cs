using System.Security.Claims;
using Parley.Data;
using Parley.Data.Search;
using Parley.Server.Auth;
using Parley.Server.Http;

namespace Parley.Server.Features.Search;

public static class SearchApi
{
    public static IEndpointRouteBuilder MapSearchApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/search/messages", Messages).RequireAuthorization().Produces<Page<MessageRecord>>().MayAnswer(400, 401);
        return app;
    }

    /// <summary>Messages of the caller's conversations matching <paramref name="q"/> (web-search syntax), best first.</summary>
    public static async Task<IResult> Messages(string? q, int? limit, string? cursor, ClaimsPrincipal user, MessageSearch search, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(q))
            return Problems.Validation("q", "q must not be empty.");
        if (q.Length > Limits.SearchQueryChars)
            return Problems.Validation("q", $"q must be at most {Limits.SearchQueryChars} characters.");
        if (TextInput.Refuse(new TextField("q", q, TextKind.SingleLine)) is { } bad) return bad;
        if (Paging.CheckLimit(limit, 20, out var size) is { } invalid) return invalid;
        return TypedResults.Ok(await search.SearchMessagesAsync(user.UserId(), q, size, cursor, ct));
    }
}
