using System.Security.Cryptography;
using System.Text;

namespace Parley.Observer.Actions;

/// <summary>
/// Standard Webhooks signing (OBSERVER.md, "Webhooks"): <c>v1,&lt;base64 HMAC-SHA256 over "{id}.{timestamp}.{body}"&gt;</c>,
/// keyed with the base64-decoded part of the secret after <c>whsec_</c>.
/// </summary>
public static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";

    /// <summary>Throws <see cref="FormatException"/> when the secret is not <c>whsec_&lt;base64&gt;</c>.</summary>
    public static byte[] DecodeSecret(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
            throw new FormatException($"A webhook secret starts with '{SecretPrefix}'.");
        return Convert.FromBase64String(secret[SecretPrefix.Length..]);
    }

    /// <summary>The <c>webhook-signature</c> header value for one delivery.</summary>
    public static string Sign(byte[] key, string webhookId, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{webhookId}.{timestamp}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content));
    }
}
