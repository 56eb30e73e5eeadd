using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Parley.Data.Routing;
using Polly.CircuitBreaker;

namespace Parley.Data.Tests.Routing;

/// <summary>
/// The replica breaker's transitions on fake time (no database: the reads it guards fail or succeed on demand, and the
/// data source is never opened): it opens after failures, refuses reads without running them while open, lets one
/// through once the break has passed (half-open), closes on its success and opens again on its failure.
/// </summary>
[Trait("Category", "Smoke")]
public sealed class ReplicaBreakerTimeTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly NpgsqlDataSource _replica = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1");
    private readonly ReplicaBreaker _breaker;
    private int _ran;

    public ReplicaBreakerTimeTests() =>
        _breaker = new ReplicaBreaker(new ReplicaOptions { BreakSeconds = 5 }, NullLogger<ReplicaBreaker>.Instance, _time);

    public void Dispose() => _replica.Dispose();

    private Task<int> ReadAsync(bool fails) => _breaker.ExecuteAsync(_replica, (_, _) =>
    {
        _ran++;
        return fails ? Task.FromException<int>(new NpgsqlException("replica read failed")) : Task.FromResult(1);
    }, CancellationToken.None);

    private async Task OpenAsync()
    {
        for (var i = 0; i < 3; i++) await Assert.ThrowsAsync<NpgsqlException>(() => ReadAsync(fails: true));
        Assert.Equal(CircuitState.Open, _breaker.State);
        Assert.False(_breaker.AllowsReads);
    }

    [Fact]
    public async Task Opens_on_failures_fails_fast_while_open_and_a_half_open_success_closes_it()
    {
        await OpenAsync();
        var ran = _ran;
        await Assert.ThrowsAsync<BrokenCircuitException>(() => ReadAsync(fails: false));
        Assert.Equal(ran, _ran); // refused without running

        _time.Advance(TimeSpan.FromSeconds(4.9));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => ReadAsync(fails: false));
        _time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.Equal(1, await ReadAsync(fails: false)); // the half-open trial
        Assert.Equal(CircuitState.Closed, _breaker.State);
        Assert.True(_breaker.AllowsReads);
    }

    [Fact]
    public async Task A_failed_half_open_trial_opens_it_again_for_another_break()
    {
        await OpenAsync();
        _time.Advance(TimeSpan.FromSeconds(5.1));
        await Assert.ThrowsAsync<NpgsqlException>(() => ReadAsync(fails: true));
        Assert.Equal(CircuitState.Open, _breaker.State);
        _time.Advance(TimeSpan.FromSeconds(4.9));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => ReadAsync(fails: false));
        _time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.Equal(1, await ReadAsync(fails: false));
        Assert.Equal(CircuitState.Closed, _breaker.State);
    }

    [Fact]
    public async Task Failures_spread_beyond_the_sampling_window_do_not_open_it()
    {
        // Two failures, then the 10 s window passes: the third failure alone is under the minimum throughput.
        for (var i = 0; i < 2; i++) await Assert.ThrowsAsync<NpgsqlException>(() => ReadAsync(fails: true));
        _time.Advance(TimeSpan.FromSeconds(11));
        await Assert.ThrowsAsync<NpgsqlException>(() => ReadAsync(fails: true));
        Assert.Equal(CircuitState.Closed, _breaker.State);
    }
}
