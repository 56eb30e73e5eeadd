using System.Security.Claims;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Parley.Data.Flags;
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
        var group = app.MapGroup("/v1/admin/flags").RequireAuthorization();
        group.MapGet("/", List);
        group.MapPut("/{name}", Set);
        return app;
    }

    public static IResult List(ClaimsPrincipal user, FeatureFlags flags, IOptions<AuthOptions> auth) =>
        IsAdmin(user, auth.Value) is { } denied ? denied : TypedResults.Ok(new { items = flags.All.OrderBy(f => f.Name) });

    public static async Task<IResult> Set(string name, SetFlagRequest request, ClaimsPrincipal user, FeatureFlags flags, IOptions<AuthOptions> auth, CancellationToken ct)
    {
        if (IsAdmin(user, auth.Value) is { } denied) return denied;
        if (!FlagName().IsMatch(name))
            return Problems.Validation("name", "A flag name is 1–100 characters of a-z, 0-9, '_', '.' or '-'.");
        if (request.Enabled is null)
            return Problems.Validation("enabled", "enabled is required.");
        if (request.Percentage is < 0 or > 100)
            return Problems.Validation("percentage", "percentage must be between 0 and 100.");
        return TypedResults.Ok(await flags.SetAsync(name, request.Enabled.Value, request.Percentage ?? 100, ct));
    }

    private static IResult? IsAdmin(ClaimsPrincipal user, AuthOptions auth) =>
        auth.Admins.Contains(user.FindFirstValue(ClaimTypes.Name))
            ? null
            : Problems.Status(StatusCodes.Status403Forbidden, "Forbidden", "Only administrators (Parley:Auth:Admins) may manage flags.");
}
