using Microsoft.AspNetCore.Identity;
using Parley.Data;

namespace Parley.Server.Auth;

/// <summary>
/// The slow password hash, at most one per core at a time. PBKDF2 holds a thread for its whole
/// cost; unbounded, a burst of logins occupies every thread-pool thread and starves the async I/O
/// of all other requests. Waiting callers wait asynchronously, without a thread.
/// </summary>
public sealed class PasswordHashing(IPasswordHasher<UserRecord> hasher) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(Environment.ProcessorCount, Environment.ProcessorCount);
    private string? _dummyHash;

    public Task<string> HashAsync(UserRecord? user, string password, CancellationToken ct) =>
        RunAsync(() => hasher.HashPassword(user!, password), ct);

    /// <summary>Verifies a password; with no stored hash (unknown handle) it still pays one hash, so timing does not reveal which handles exist.</summary>
    public Task<PasswordVerificationResult> VerifyAsync(UserRecord? user, string? storedHash, string password, CancellationToken ct) =>
        RunAsync(() =>
        {
            var verdict = hasher.VerifyHashedPassword(user!, storedHash ?? DummyHash(), password);
            return storedHash is null ? PasswordVerificationResult.Failed : verdict;
        }, ct);

    private string DummyHash() =>
        _dummyHash ??= hasher.HashPassword(null!, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)));

    private async Task<T> RunAsync<T>(Func<T> work, CancellationToken ct)
    {
        await _slots.WaitAsync(ct);
        try
        {
            return work();
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose() => _slots.Dispose();
}
