using System.Security.Cryptography;
using System.Text;

namespace Parley.Kit.Webhooks;

/// <summary>
/// The kit's own check of a Standard Webhooks signature, written apart from the observer's signer so a receiver that
/// counts deliveries also proves the signing: <c>webhook-signature</c> holds space-separated <c>v1,base64(HMAC-SHA256(key,
/// "{webhook-id}.{webhook-timestamp}.{body}"))</c> entries, one of which must match.
/// </summary>
public static class WebhookSignature
{
    public static bool IsValid(byte[] key, string id, string timestamp, string signatures, ReadOnlySpan<byte> body)
    {
        if (id.Length == 0 || timestamp.Length == 0) return false;
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        var expected = Encoding.ASCII.GetBytes("v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed)));
        return signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Any(s => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(s), expected));
    }
}
