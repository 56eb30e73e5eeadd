using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Parley.Data;
using Parley.Server.Http;

namespace Parley.Server.Auth;

/// <summary>The password-hash queue is full, or a hash waited past <see cref="AuthOptions.HashQueueWaitMilliseconds"/>: answer 503 at once.</summary>
public sealed class HashQueueFullException() : Exception("The password-hash queue is full.");

/// <summary>
/// The slow password hash behind a bounded queue: at most <see cref="AuthOptions.HashConcurrency"/>
/// hashes at a time (PBKDF2 holds a thread for its whole cost; unbounded, a burst of logins occupies
/// every thread-pool thread and starves all other requests), at most
/// <see cref="AuthOptions.HashQueueLength"/> waiting (asynchronously, without a thread), none longer
/// than <see cref="AuthOptions.HashQueueWaitMilliseconds"/>. Beyond that a caller gets
/// <see cref="HashQueueFullException"/> at once instead of a wait past any request timeout.
/// </summary>
public sealed class PasswordHashing : IDisposable
{
    private readonly IPasswordHasher<UserRecord> _hasher;
    private readonly BoundedSlots _slots;
    private string? _dummyHash;

    public PasswordHashing(IPasswordHasher<UserRecord> hasher, IOptions<AuthOptions> options)
    {
        var o = options.Value;
        _hasher = hasher;
        _slots = new BoundedSlots(o.HashConcurrency > 0 ? o.HashConcurrency : Environment.ProcessorCount,
            o.HashQueueLength, TimeSpan.FromMilliseconds(o.HashQueueWaitMilliseconds));
    }

    public Task<string> HashAsync(UserRecord? user, string password, CancellationToken ct) =>
        RunAsync(() => _hasher.HashPassword(user!, password), ct);

    /// <summary>Verifies a password; with no stored hash (unknown handle) it still pays one hash, so timing does not reveal which handles exist.</summary>
    public Task<PasswordVerificationResult> VerifyAsync(UserRecord? user, string? storedHash, string password, CancellationToken ct) =>
        RunAsync(() =>
        {
            var verdict = _hasher.VerifyHashedPassword(user!, storedHash ?? DummyHash(), password);
            return storedHash is null ? PasswordVerificationResult.Failed : verdict;
        }, ct);

    private string DummyHash() =>
        _dummyHash ??= _hasher.HashPassword(null!, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)));

    private async Task<T> RunAsync<T>(Func<T> work, CancellationToken ct)
    {
        using var lease = await _slots.EnterAsync(ct) ?? throw new HashQueueFullException();
        return work();
    }

    public void Dispose() => _slots.Dispose();
}
