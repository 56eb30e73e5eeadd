using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Parley.Server.Auth;

/// <summary>
/// Issues and validates compact HS256 JWTs (RFC 7519): <c>sub</c>, <c>handle</c>, <c>sid</c> (the login
/// session, checked for revocation by <see cref="SessionRevocations"/>), <c>iss</c>, <c>iat</c>, <c>exp</c>.
/// </summary>
public sealed class TokenService(IOptions<AuthOptions> options, TimeProvider time)
{
    private static readonly string Header = Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8);
    private readonly byte[] _key = options.Value.KeyBytes();
    private readonly AuthOptions _options = options.Value;

    public const string SessionClaim = "sid";

    public const string ExpiresClaim = "exp";

    public (string Token, int ExpiresIn) Issue(Guid userId, string handle, Guid sessionId)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var lifetime = _options.AccessTokenLifetimeSeconds;
        var payload = JsonSerializer.SerializeToUtf8Bytes(
            new TokenPayload(userId.ToString(), handle, sessionId.ToString(), _options.Issuer, now, now + lifetime), TokenJson.Default.TokenPayload);
        var unsigned = $"{Header}.{Base64Url.EncodeToString(payload)}";
        return ($"{unsigned}.{Base64Url.EncodeToString(Sign(unsigned))}", lifetime);
    }

    /// <summary>The token's principal, or null when it is malformed, forged, expired or from another issuer.</summary>
    public ClaimsPrincipal? Validate(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[0] != Header || token.Length > 4096) return null;
        Span<byte> signature = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (Base64Url.DecodeFromChars(parts[2], signature, out _, out var written) != System.Buffers.OperationStatus.Done
            || written != signature.Length
            || !CryptographicOperations.FixedTimeEquals(signature, Sign(token.AsSpan(0, parts[0].Length + 1 + parts[1].Length))))
            return null;
        TokenPayload? payload;
        try
        {
            payload = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(parts[1]), TokenJson.Default.TokenPayload);
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            return null;
        }
        if (payload is null || payload.Iss != _options.Issuer || payload.Exp <= time.GetUtcNow().ToUnixTimeSeconds()
            || !Guid.TryParse(payload.Sub, out _) || !Guid.TryParse(payload.Sid, out _))
            return null;
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, payload.Sub), new Claim(ClaimTypes.Name, payload.Handle),
                new Claim(SessionClaim, payload.Sid), new Claim(ExpiresClaim, payload.Exp.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ],
            TokenAuthenticationHandler.SchemeName);
        return new ClaimsPrincipal(identity);
    }

    private byte[] Sign(ReadOnlySpan<char> unsigned)
    {
        var bytes = Encoding.ASCII.GetBytes(unsigned.ToArray());
        return HMACSHA256.HashData(_key, bytes);
    }
}

internal sealed record TokenPayload(
    [property: System.Text.Json.Serialization.JsonPropertyName("sub")] string Sub,
    [property: System.Text.Json.Serialization.JsonPropertyName("handle")] string Handle,
    [property: System.Text.Json.Serialization.JsonPropertyName("sid")] string? Sid,
    [property: System.Text.Json.Serialization.JsonPropertyName("iss")] string Iss,
    [property: System.Text.Json.Serialization.JsonPropertyName("iat")] long Iat,
    [property: System.Text.Json.Serialization.JsonPropertyName("exp")] long Exp);

[System.Text.Json.Serialization.JsonSerializable(typeof(TokenPayload))]
internal sealed partial class TokenJson : System.Text.Json.Serialization.JsonSerializerContext;
