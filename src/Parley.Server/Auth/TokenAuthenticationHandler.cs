using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Parley.Server.Auth;

/// <summary>Bearer token authentication; WebSocket clients in browsers may pass <c>?access_token=</c>.</summary>
public sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, TokenService tokens, SessionRevocations revocations,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = null;
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            token = header["Bearer ".Length..].Trim();
        else if (Request.Path.StartsWithSegments("/v1/ws") && Request.Query.TryGetValue("access_token", out var query))
            token = query.ToString();
        if (string.IsNullOrEmpty(token))
            return AuthenticateResult.NoResult();
        var principal = tokens.Validate(token);
        if (principal is null)
            return AuthenticateResult.Fail("The access token is malformed, expired or not ours.");
        if (await revocations.IsRevokedAsync(principal.SessionId(), Context.RequestAborted))
            return AuthenticateResult.Fail("The access token's session was logged out.");
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = 401, Title = "Not authenticated", Detail = "Send a valid access token as 'Authorization: Bearer <token>'." },
        });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = 403, Title = "Forbidden", Detail = "You are not allowed to do this." },
        });
    }
}

public static class ClaimsPrincipalExtensions
{
    public static Guid UserId(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("No authenticated user."));

    /// <summary>The login session of the access token (<c>sid</c>).</summary>
    public static Guid SessionId(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(TokenService.SessionClaim) ?? throw new InvalidOperationException("No authenticated session."));

    /// <summary>When the access token expires.</summary>
    public static DateTimeOffset TokenExpires(this ClaimsPrincipal user) =>
        DateTimeOffset.FromUnixTimeSeconds(long.Parse(user.FindFirstValue(TokenService.ExpiresClaim) ?? "0", System.Globalization.CultureInfo.InvariantCulture));
}
