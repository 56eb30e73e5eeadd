using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Parley.Kit.Stack;
using Parley.Redis;
using Parley.Server.Caching;
using Parley.Server.Features.Health;

namespace Parley.Server.Tests.Caching;

/// <summary>
/// The cache breaker's transitions on fake time, against a real Redis of the test's own (a Redis-only stack) made to
/// answer lookups with error replies: the epoch key is turned into a list, so the lookup script's GET fails with
/// WRONGTYPE. It opens after failed lookups, skips the cache without asking Redis while open, lets one lookup through
/// once the break has passed (half-open), closes on its success and opens again on its failure.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CacheBreakerTimeTests : IAsyncLifetime
{
    private const int BreakSeconds = 2;
    private readonly FakeTimeProvider _time = new();
    private LocalStack _stack = null!;
    private RedisClient _redis = null!;
    private ReadCache _cache = null!;

    public async Task InitializeAsync()
    {
        _stack = await LocalStack.StartAsync(new StackOptions { WithPrimary = false, WithReplica = false, WithPgBouncer = false });
        _redis = await RedisClient.ConnectAsync(new RedisOptions { Endpoint = _stack.RedisEndpoint!, KeyPrefix = $"breaker{Guid.NewGuid():N}:" });
        var probe = new RedisProbe(_redis, Options.Create(new HealthOptions()), _time, NullLogger<RedisProbe>.Instance);
        // A generous operation timeout: only error replies count here, never a slow machine.
        _cache = new ReadCache(_redis, probe, Options.Create(new CacheOptions { BreakSeconds = BreakSeconds, TimeoutMilliseconds = 5000 }), _time,
            NullLogger<ReadCache>.Instance);
    }

    public async Task DisposeAsync()
    {
        if (_redis is not null) await _redis.DisposeAsync();
        if (_stack is not null) await _stack.DisposeAsync();
    }

    private string EpochKey => _redis.Key("cache:epoch");

    private async Task BreakLookupsAsync() => await _redis.ExecuteAsync("RPUSH", [EpochKey, "not a number"], TimeSpan.FromSeconds(5));

    private async Task MendLookupsAsync() => await _redis.ExecuteAsync("DEL", [EpochKey], TimeSpan.FromSeconds(5));

    /// <summary>A lookup; true when Redis answered it (a stamp came back), false when the cache was skipped or failed.</summary>
    private async Task<bool> LookupAsync() => (await _cache.GetAsync(ReadCache.User(Guid.Empty), "l20", CancellationToken.None)).Stamp is not null;

    private async Task OpenAsync()
    {
        await BreakLookupsAsync();
        for (var i = 0; i < 4; i++) Assert.False(await LookupAsync(), $"lookup {i + 1} fails on the error reply");
        Assert.False(_cache.Available, "four failed lookups of four open the breaker");
    }

    [Fact]
    public async Task Opens_on_error_replies_skips_redis_while_open_and_a_half_open_success_closes_it()
    {
        Assert.True(await LookupAsync(), "a healthy Redis answers the lookup");
        await OpenAsync();
        await MendLookupsAsync();
        Assert.False(await LookupAsync(), "open: the cache is skipped although Redis would answer now");

        _time.Advance(TimeSpan.FromSeconds(BreakSeconds - 0.1));
        Assert.False(await LookupAsync(), "still open just before the break ends");
        _time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(await LookupAsync(), "the half-open trial reaches Redis");
        Assert.True(_cache.Available, "its success closes the breaker");
    }

    [Fact]
    public async Task A_failed_half_open_trial_opens_it_again_for_another_break()
    {
        await OpenAsync();
        _time.Advance(TimeSpan.FromSeconds(BreakSeconds + 0.1));
        Assert.False(await LookupAsync(), "the half-open trial meets the error reply");
        Assert.False(_cache.Available, "a failed trial opens it again");

        await MendLookupsAsync();
        _time.Advance(TimeSpan.FromSeconds(BreakSeconds - 0.1));
        Assert.False(await LookupAsync(), "open for a whole new break");
        _time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(await LookupAsync());
        Assert.True(_cache.Available);
    }

    [Fact]
    public async Task Error_replies_spread_beyond_the_sampling_window_do_not_open_it()
    {
        await BreakLookupsAsync();
        for (var i = 0; i < 3; i++) Assert.False(await LookupAsync());
        _time.Advance(TimeSpan.FromSeconds(6)); // past the 5 s sampling window: the fourth failure is alone in it
        Assert.False(await LookupAsync());
        Assert.True(_cache.Available, "three failures long ago and one now are under the minimum throughput");
    }
}
