using System.Security.Claims;
using System.Text.RegularExpressions;
using Parley.Data;
using Parley.Data.Flags;
using Parley.Data.Users;
using Parley.Server.Auth;
using Parley.Server.Http;

namespace Parley.Server.Features.Admin;

public sealed record SetFlagRequest(bool? Enabled, int? Percentage);

public static partial class FlagsApi
{
    [GeneratedRegex(@"^[a-z0-9_.-]{1,100}\z")] // \z: $ would also match before a final newline
    private static partial Regex FlagName();

    public static IEndpointRouteBuilder MapFlagsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/flags").RequireAuthorization().MayAnswer(401, 403);
        group.MapGet("/", List).Produces<ItemList<FeatureFlag>>();
        group.MapPut("/{name}", Set).Produces<FeatureFlag>().MayAnswer(400);
        return app;
    }

    public static async Task<IResult> List(ClaimsPrincipal user, FeatureFlags flags, AdminRoles admins, CancellationToken ct) =>
        await Denied(user, admins, ct) ?? TypedResults.Ok(new ItemList<FeatureFlag>([.. flags.All.OrderBy(f => f.Name)]));

    public static async Task<IResult> Set(string name, SetFlagRequest request, ClaimsPrincipal user, FeatureFlags flags, AdminRoles admins, CancellationToken ct)
    {
        if (await Denied(user, admins, ct) is { } denied) return denied;
        if (!FlagName().IsMatch(name))
            return Problems.Validation("name", "A flag name is 1–100 characters of a-z, 0-9, '_', '.' or '-'.");
        if (request.Enabled is null)
            return Problems.Validation("enabled", "enabled is required.");
        if (request.Percentage is < 0 or > 100)
            return Problems.Validation("percentage", "percentage must be between 0 and 100.");
        return TypedResults.Ok(await flags.SetAsync(name, request.Enabled.Value, request.Percentage ?? 100, ct));
    }

    // Read from the database on every call (admin calls are rare), so a revoke applies at once.
    private static async Task<IResult?> Denied(ClaimsPrincipal user, AdminRoles admins, CancellationToken ct) =>
        await admins.IsAdminAsync(user.UserId(), ct)
            ? null
            : Problems.Status(StatusCodes.Status403Forbidden, "Forbidden", "Only administrators (`parley admin grant <handle>`) may manage flags.");
}
