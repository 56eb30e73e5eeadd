using System.Globalization;
using System.Security.Claims;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using Parley.Data;
using Parley.Data.Users;
using Microsoft.Extensions.Options;
using Parley.Server.Auth;
using Parley.Server.Features.Realtime;
using Parley.Server.Http;

namespace Parley.Server.Features.Auth;

public sealed record RegisterRequest(string? Handle, string? Password, string? DisplayName);

public sealed record LoginRequest(string? Handle, string? Password);

public sealed record RefreshRequest(string? RefreshToken);

/// <summary>Login and refresh answer: a short-lived access token and the session's next single-use refresh token.</summary>
public sealed record LoginResponse(string AccessToken, string TokenType, int ExpiresIn, Guid UserId, string RefreshToken);

public static partial class AuthApi
{
    // \z, not $: $ also matches before a final newline, so "alice\n" would pass.
    [GeneratedRegex(@"^[a-z0-9_.-]{3,32}\z")]
    private static partial Regex HandlePattern();

    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/v1/auth").AllowAnonymous();
        auth.MapPost("/register", Register).Produces<UserRecord>(StatusCodes.Status201Created).MayAnswer(400, 409, 503);
        auth.MapPost("/login", Login).Produces<LoginResponse>().MayAnswer(400, 401, 429, 503);
        auth.MapPost("/refresh", Refresh).Produces<LoginResponse>().MayAnswer(400, 401);
        auth.MapPost("/logout", Logout).Produces(StatusCodes.Status204NoContent).MayAnswer(400, 401);
        app.MapGet("/v1/me", Me).RequireAuthorization().Produces<UserRecord>().MayAnswer(401);
        return app;
    }

    public static async Task<IResult> Register(RegisterRequest request, UserStore users, PasswordHashing hashing, HttpContext http, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.Handle is null || !HandlePattern().IsMatch(request.Handle))
            errors["handle"] = ["handle must be 3–32 characters of a-z, 0-9, '_', '.' or '-'."];
        if (request.Password is null || request.Password.Length < 8 || request.Password.Length > Limits.PasswordChars)
            errors["password"] = [$"password must be 8–{Limits.PasswordChars} characters."];
        if (request.DisplayName is { Length: > Limits.DisplayNameChars } || request.DisplayName is { } d && string.IsNullOrWhiteSpace(d))
            errors["displayName"] = [$"displayName must be 1–{Limits.DisplayNameChars} characters when given."];
        TextInput.Collect(errors, new("password", request.Password, TextKind.SingleLine), new("displayName", request.DisplayName, TextKind.SingleLine));
        if (errors.Count > 0)
            return Problems.Validation(errors);

        string hash;
        try
        {
            hash = await hashing.HashAsync(null, request.Password!, ct);
        }
        catch (HashQueueFullException)
        {
            return HashQueueFull(http);
        }
        var user = await users.CreateAsync(request.Handle!, request.DisplayName ?? request.Handle!, hash, ct);
        return user is null
            ? Problems.Status(StatusCodes.Status409Conflict, "Conflict", $"The handle '{request.Handle}' is taken.")
            : TypedResults.Created($"/v1/users/{user.Id}", user);
    }

    public static async Task<IResult> Login(
        LoginRequest request, UserStore users, PasswordHashing hashing, TokenService tokens, SessionStore sessions, LoginThrottle throttle,
        IOptions<AuthOptions> options, HttpContext http, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.Handle) || string.IsNullOrEmpty(request.Password) || request.Password.Length > Limits.PasswordChars)
            return Problems.Validation("handle", "handle and password are required.");
        if (TextInput.Refuse(new("handle", request.Handle, TextKind.SingleLine), new("password", request.Password, TextKind.SingleLine)) is { } bad) return bad;
        var address = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        // The slot is taken before the hash (see LoginThrottle): parallel guesses cannot outrun it.
        using var attempt = throttle.TryBegin(request.Handle, address, out var retryAfter);
        if (attempt is null)
        {
            http.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return Problems.Status(StatusCodes.Status429TooManyRequests, "Too many requests", "Too many failed logins; wait before trying again.");
        }
        PasswordVerificationResult verdict;
        Credential? credential;
        try
        {
            credential = await users.FindCredentialAsync(request.Handle, ct);
            verdict = await hashing.VerifyAsync(credential?.User, credential?.PasswordHash, request.Password, ct);
        }
        catch (HashQueueFullException)
        {
            attempt.Refund();
            return HashQueueFull(http);
        }
        if (verdict == PasswordVerificationResult.Failed)
            return Problems.Status(StatusCodes.Status401Unauthorized, "Not authenticated", "Unknown handle or wrong password.");
        attempt.Refund();
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            try
            {
                await users.UpdatePasswordHashAsync(credential!.User.Id, await hashing.HashAsync(credential.User, request.Password, ct), ct);
            }
            catch (HashQueueFullException)
            {
                // The upgrade is an optimisation; the next login retries it.
            }
        }
        var refreshToken = SessionStore.NewToken();
        var sessionId = await sessions.CreateAsync(credential!.User.Id, refreshToken, RefreshLifetime(options.Value), ct);
        return Issued(tokens, credential.User.Id, credential.User.Handle, sessionId, refreshToken);
    }

    /// <summary>Spends a refresh token for new tokens; a spent one presented again revokes its whole session.</summary>
    public static async Task<IResult> Refresh(
        RefreshRequest request, SessionStore sessions, SessionRevocations revocations, TokenService tokens, IOptions<AuthOptions> options, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.RefreshToken) || request.RefreshToken.Length > MaxRefreshTokenChars)
            return Problems.Validation("refreshToken", "refreshToken is required (the one the last login or refresh returned).");
        if (TextInput.Refuse(new TextField("refreshToken", request.RefreshToken, TextKind.SingleLine)) is { } bad) return bad;
        var next = SessionStore.NewToken();
        var result = await sessions.RotateAsync(request.RefreshToken, next, RefreshLifetime(options.Value), ct);
        if (result.Outcome == RefreshOutcome.Rotated)
            return Issued(tokens, result.UserId, result.Handle, result.SessionId, next);
        if (result.Outcome == RefreshOutcome.Reused) revocations.Revoked(result.SessionId);
        return Problems.Status(StatusCodes.Status401Unauthorized, "Not authenticated",
            "The refresh token is unknown, expired, already used or of a logged-out session; log in again.");
    }

    /// <summary>
    /// Revokes a session — its refresh tokens, its access tokens and its WebSockets: the one of
    /// <c>{refreshToken}</c> (API.md), or with no body the one of the calling access token.
    /// </summary>
    public static async Task<IResult> Logout(
        RefreshRequest? request, ClaimsPrincipal principal, SessionStore sessions, SessionRevocations revocations, ConnectionHub hub, CancellationToken ct)
    {
        (Guid SessionId, Guid UserId)? session;
        if (!string.IsNullOrEmpty(request?.RefreshToken))
        {
            session = request.RefreshToken.Length > MaxRefreshTokenChars ? null : await sessions.RevokeByTokenAsync(request.RefreshToken, ct);
        }
        else if (principal.Identity?.IsAuthenticated == true)
        {
            session = (principal.SessionId(), principal.UserId());
            await sessions.RevokeAsync(session.Value.SessionId, session.Value.UserId, ct);
        }
        else
        {
            session = null;
        }
        if (session is not { } revoked)
            return Problems.Status(StatusCodes.Status401Unauthorized, "Not authenticated", "Send the session's refreshToken, or its access token as 'Authorization: Bearer <token>'.");
        revocations.Revoked(revoked.SessionId);
        hub.CloseSession(revoked.UserId, revoked.SessionId, CloseCodes.SessionRevoked);
        return TypedResults.NoContent();
    }

    // SessionStore.NewToken is 43 characters; anything much longer is not ours.
    private const int MaxRefreshTokenChars = 128;

    private static TimeSpan RefreshLifetime(AuthOptions options) => TimeSpan.FromDays(options.RefreshTokenDays);

    private static IResult Issued(TokenService tokens, Guid userId, string handle, Guid sessionId, string refreshToken)
    {
        var (token, expiresIn) = tokens.Issue(userId, handle, sessionId);
        return TypedResults.Ok(new LoginResponse(token, "Bearer", expiresIn, userId, refreshToken));
    }

    private static IResult HashQueueFull(HttpContext http)
    {
        http.Response.Headers.RetryAfter = "1";
        return Problems.Status(StatusCodes.Status503ServiceUnavailable, "Service unavailable", "The server is busy checking passwords; retry shortly.");
    }

    public static async Task<IResult> Me(ClaimsPrincipal principal, UserStore users, CancellationToken ct)
    {
        var user = await users.FindAsync(principal.UserId(), ct);
        return user is null
            ? Problems.Status(StatusCodes.Status401Unauthorized, "Not authenticated", "The token's user no longer exists.")
            : TypedResults.Ok(user);
    }
}
