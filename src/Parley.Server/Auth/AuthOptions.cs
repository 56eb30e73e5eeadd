using System.ComponentModel.DataAnnotations;

namespace Parley.Server.Auth;

/// <summary>Authentication settings, bound from <c>Parley:Auth</c>.</summary>
public sealed class AuthOptions
{
    public const string Section = "Parley:Auth";

    /// <summary>Base64 HMAC key (≥ 32 bytes) that signs access tokens and, derived, list cursors. Every node must share it.</summary>
    [Required]
    public string SigningKey { get; set; } = "";

    public string Issuer { get; set; } = "parley";

    /// <summary>Access token lifetime. Default 60 minutes.</summary>
    [Range(1, 24 * 60)]
    public int AccessTokenMinutes { get; set; } = 60;

    /// <summary>When above 0, the access token lifetime in seconds instead of <see cref="AccessTokenMinutes"/> (short-lived deployments, tests). Default 0.</summary>
    [Range(0, 24 * 3600)]
    public int AccessTokenSeconds { get; set; }

    /// <summary>A session's refresh token stays valid this many days after its last use (each refresh extends it). Default 30.</summary>
    [Range(1, 3650)]
    public int RefreshTokenDays { get; set; } = 30;

    /// <summary>
    /// How long a node trusts what it last read about a session (revoked or not), in seconds: the
    /// bound on how long another node still accepts an access token after its logout. The node that
    /// revokes applies it at once. Open WebSockets re-check at this interval. Default 5.
    /// </summary>
    [Range(1, 300)]
    public int SessionCheckSeconds { get; set; } = 5;

    public int AccessTokenLifetimeSeconds => AccessTokenSeconds > 0 ? AccessTokenSeconds : AccessTokenMinutes * 60;

    /// <summary>PBKDF2 iterations of the password hash; the login cost is proportional. Default 100,000.</summary>
    [Range(1_000, 10_000_000)]
    public int PasswordHashIterations { get; set; } = 100_000;

    /// <summary>Failed logins allowed per handle within <see cref="FailureWindowSeconds"/> before 429. Default 5.</summary>
    [Range(1, 10_000)]
    public int FailedLoginsPerHandle { get; set; } = 5;

    /// <summary>Failed logins allowed per client address within the window before 429. Default 50.</summary>
    [Range(1, 1_000_000)]
    public int FailedLoginsPerAddress { get; set; } = 50;

    /// <summary>The window of the failed-login budgets, in seconds. Default 60.</summary>
    [Range(1, 3600)]
    public int FailureWindowSeconds { get; set; } = 60;

    /// <summary>Password hashes computed at once; 0 means one per core. Default 0.</summary>
    [Range(0, 1024)]
    public int HashConcurrency { get; set; }

    /// <summary>Logins and registrations that may wait for a hash slot; beyond that 503 at once. Default 64.</summary>
    [Range(0, 100_000)]
    public int HashQueueLength { get; set; } = 64;

    /// <summary>Longest wait for a hash slot before 503, in milliseconds; keep it below client timeouts. Default 2,000.</summary>
    [Range(1, 60_000)]
    public int HashQueueWaitMilliseconds { get; set; } = 2_000;

    public byte[] KeyBytes()
    {
        var bytes = Convert.FromBase64String(SigningKey);
        return bytes.Length >= 32 ? bytes : throw new InvalidOperationException("Parley:Auth:SigningKey must decode to at least 32 bytes.");
    }
}
