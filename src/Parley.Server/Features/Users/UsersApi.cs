using Parley.Data;
using Parley.Data.Users;
using Parley.Server.Http;

namespace Parley.Server.Features.Users;

/// <summary>
/// Users as other signed-in users see them (<c>User</c>: id, handle, display name): what a person types
/// is a handle, what the API takes is an id. A handle lookup tells nothing register's 409 does not.
/// </summary>
public static class UsersApi
{
    public static IEndpointRouteBuilder MapUsersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/users").RequireAuthorization().MayAnswer(401, 404);
        group.MapGet("/", ByHandle).Produces<UserRecord>().MayAnswer(400);
        group.MapGet("/{id:guid}", ById).Produces<UserRecord>();
        return app;
    }

    /// <summary><c>GET /v1/users?handle=</c>: the user with exactly that handle.</summary>
    public static async Task<IResult> ByHandle(string? handle, UserStore users, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(handle) || handle.Length > Limits.HandleChars)
            return Problems.Validation("handle", $"handle must be 1–{Limits.HandleChars} characters.");
        if (TextInput.Refuse(new TextField("handle", handle, TextKind.SingleLine)) is { } bad) return bad;
        return await users.FindCredentialAsync(handle, ct) is { } found ? TypedResults.Ok(found.User) : NoSuchUser();
    }

    /// <summary><c>GET /v1/users/{id}</c> (the <c>Location</c> of a registration).</summary>
    public static async Task<IResult> ById(Guid id, UserStore users, CancellationToken ct) =>
        await users.FindAsync(id, ct) is { } user ? TypedResults.Ok(user) : NoSuchUser();

    private static IResult NoSuchUser() => Problems.Status(StatusCodes.Status404NotFound, "Not found", "No such user.");
}
