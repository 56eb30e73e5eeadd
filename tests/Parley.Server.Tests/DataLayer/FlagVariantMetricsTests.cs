using System.Net;
using Parley.Data.Flags;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Server.Tests.DataLayer;

/// <summary>Issue 12's metrics by variant: each read a flag decides is counted under the variant its user got.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class FlagVariantMetricsTests(ParleyFixture fixture) : IAsyncLifetime
{
    private const string Flag = FlagNames.HistoryReplica;
    private readonly ApiClient _api = fixture.Client();
    private ApiUser _admin = null!;

    public async Task InitializeAsync() => _admin = await fixture.AdminAsync(_api);

    public async Task DisposeAsync()
    {
        await SetFlag(false, 100);
        await SetFlag(false, 100, FlagNames.HistoryCache);
        _api.Dispose();
    }

    private async Task SetFlag(bool enabled, int percentage, string flag = Flag)
    {
        var response = await _api.SendAsync(_admin, HttpMethod.Put, $"/v1/admin/flags/{flag}", new { enabled, percentage });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private Task<double> Series(string name, string variant, string flag = Flag, params string[] more) =>
        MetricsScrape.ValueAsync(_api.Http, name, [$"flag=\"{flag}\"", $"variant=\"{variant}\"", .. more]);

    private async Task<(double Ok, double Errors, double Waits)> Counts(string variant, string flag = Flag) => (
        await Series("parley_flag_request_duration_seconds_count", variant, flag, "outcome=\"ok\""),
        await Series("parley_flag_request_duration_seconds_count", variant, flag, "outcome=\"error\""),
        await Series("parley_flag_pool_wait_seconds_count", variant, flag));

    /// <summary>A new user on the given side of the flag at 50%, found by its bucket (bounded: 64 tries).</summary>
    private async Task<ApiUser> UserOn(bool on, string flag = Flag)
    {
        for (var i = 0; i < 64; i++)
        {
            var user = await _api.NewUserAsync("fv");
            if (FeatureFlags.Bucket(flag, user.Id) < 50 == on) return user;
        }
        throw new InvalidOperationException("no user fell on the wanted side of 50% in 64 tries");
    }

    [Fact]
    public async Task History_reads_are_counted_under_the_variant_each_user_got_with_latency_outcome_and_pool_wait()
    {
        await SetFlag(true, 50);
        var canary = await UserOn(true);
        var control = await UserOn(false);
        var owner = await _api.NewUserAsync("fv");
        var conversation = await _api.CreateConversationAsync(owner, canary, control);
        await _api.SendMessageAsync(owner, conversation, "judged by variant");

        var onBefore = await Counts("on");
        var offBefore = await Counts("off");
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync(canary, $"/v1/conversations/{conversation}/messages?limit=5")).StatusCode);
        var onAfterCanary = await Counts("on");
        var offAfterCanary = await Counts("off");
        Assert.Equal(onBefore.Ok + 1, onAfterCanary.Ok);
        Assert.Equal(onBefore.Waits + 1, onAfterCanary.Waits);
        Assert.Equal(offBefore, offAfterCanary);

        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync(control, $"/v1/conversations/{conversation}/messages?limit=5")).StatusCode);
        var onAfterControl = await Counts("on");
        var offAfterControl = await Counts("off");
        Assert.Equal(onAfterCanary, onAfterControl);
        Assert.Equal(offBefore.Ok + 1, offAfterControl.Ok);
        Assert.Equal(offBefore.Waits + 1, offAfterControl.Waits);
        Assert.Equal(offBefore.Errors, offAfterControl.Errors);

        // The histogram has buckets per variant, so a judge can rank the two variants' latencies.
        Assert.True(await Series("parley_flag_request_duration_seconds_bucket", "on", Flag, "outcome=\"ok\"", "le=\"+Inf\"") >= 1);
    }

    [Fact]
    public async Task First_history_pages_are_counted_under_the_cache_flags_variant_and_later_pages_are_not()
    {
        const string cache = FlagNames.HistoryCache;
        await SetFlag(true, 50, cache);
        var canary = await UserOn(true, cache);
        var control = await UserOn(false, cache);
        var owner = await _api.NewUserAsync("fv");
        var conversation = await _api.CreateConversationAsync(owner, canary, control);
        for (var i = 0; i < 3; i++) await _api.SendMessageAsync(owner, conversation, $"cached by variant {i}");

        var onBefore = await Counts("on", cache);
        var offBefore = await Counts("off", cache);
        var first = await _api.GetAsync(canary, $"/v1/conversations/{conversation}/messages?limit=2");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync(canary, $"/v1/conversations/{conversation}/messages?limit=2")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync(control, $"/v1/conversations/{conversation}/messages?limit=2")).StatusCode);
        var onAfter = await Counts("on", cache);
        var offAfter = await Counts("off", cache);
        Assert.Equal(onBefore.Ok + 2, onAfter.Ok); // a miss that filled the cache, then a hit
        Assert.Equal(offBefore.Ok + 1, offAfter.Ok);
        Assert.Equal(onBefore.Errors, onAfter.Errors);

        // A later page is not the cache's to decide: not counted under its flag.
        var cursor = System.Text.Json.JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("nextCursor").GetString();
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync(canary, $"/v1/conversations/{conversation}/messages?limit=2&cursor={Uri.EscapeDataString(cursor!)}")).StatusCode);
        Assert.Equal(onAfter, await Counts("on", cache));
    }
}
