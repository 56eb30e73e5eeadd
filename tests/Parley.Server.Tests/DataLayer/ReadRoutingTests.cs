using System.Net;
using Npgsql;
using Parley.Data.Flags;
using Parley.Data.Routing;
using Parley.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Parley.Kit.Load;

namespace Parley.Server.Tests.DataLayer;

/// <summary>Seed 000's "Read Routing Feature Flags" and "Replica Fallback Behavior", on the real replica.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ReadRoutingTests(ParleyFixture fixture) : IAsyncLifetime
{
    private readonly ApiClient _api = fixture.Client();
    private ApiUser _admin = null!;

    public async Task InitializeAsync() => _admin = await fixture.AdminAsync(_api);

    public async Task DisposeAsync()
    {
        await SetFlag(FlagNames.HistoryReplica, false);
        await SetFlag(FlagNames.ListReplica, false);
        _api.Dispose();
    }

    private async Task SetFlag(string name, bool enabled, int percentage = 100)
    {
        var response = await _api.SendAsync(_admin, HttpMethod.Put, $"/v1/admin/flags/{name}", new { enabled, percentage });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<long> Reads(string target) =>
        (long)await MetricsScrape.ValueAsync(_api.Http, "parley_db_reads_total", "operation=\"message_history\"", $"target=\"{target}\"");

    /// <summary>A conversation whose messages the member has not written, already on the replica.</summary>
    private async Task<(ApiUser Owner, ApiUser Member, Guid Id, string LastId)> ReplicatedConversation()
    {
        var owner = await _api.NewUserAsync("rt");
        var member = await _api.NewUserAsync("rt");
        var id = await _api.CreateConversationAsync(owner, member);
        var last = (await _api.SendMessageAsync(owner, id, "replicated"))["id"]!.GetValue<string>();
        await using var replica = NpgsqlDataSource.Create(fixture.Stack.ReplicaConnectionString!);
        await Eventually.True(async () =>
        {
            await using var cmd = replica.CreateCommand("SELECT count(*) FROM messages WHERE id = $1");
            cmd.Parameters.Add(new NpgsqlParameter { Value = Guid.Parse(last) });
            return (long)(await cmd.ExecuteScalarAsync())! == 1;
        }, "the message to reach the replica");
        return (owner, member, id, last);
    }

    private async Task<string> NewestId(ApiUser user, Guid id)
    {
        var response = await _api.GetAsync(user, $"/v1/conversations/{id}/messages?limit=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await ApiClient.Json(response))["items"]![0]!["id"]!.GetValue<string>();
    }

    [Fact]
    public async Task With_the_flag_off_history_is_read_from_the_primary()
    {
        await SetFlag(FlagNames.HistoryReplica, false);
        var (_, member, id, last) = await ReplicatedConversation();
        var before = await Reads("replica");
        Assert.Equal(last, await NewestId(member, id));
        Assert.Equal(before, await Reads("replica"));
    }

    [Fact]
    public async Task With_the_flag_on_history_is_read_from_the_replica_and_toggling_takes_effect_at_runtime()
    {
        var (_, member, id, last) = await ReplicatedConversation();
        await SetFlag(FlagNames.HistoryReplica, true);
        var router = fixture.Services.GetRequiredService<ReadRouter>();
        await Eventually.True(() => Task.FromResult(router.WouldUseReplica(ReadOperation.MessageHistory, member.Id)), "the replica to be chosen");
        var before = await Reads("replica");
        Assert.Equal(last, await NewestId(member, id));
        Assert.Equal(before + 1, await Reads("replica"));

        await SetFlag(FlagNames.HistoryReplica, false);
        Assert.False(router.WouldUseReplica(ReadOperation.MessageHistory, member.Id));
        Assert.Equal(last, await NewestId(member, id));
        Assert.Equal(before + 1, await Reads("replica"));
    }

    [Fact]
    public async Task A_user_reads_its_own_write_from_the_primary_even_with_replay_paused()
    {
        await SetFlag(FlagNames.HistoryReplica, true);
        var (_, member, id, _) = await ReplicatedConversation();
        await using var replica = NpgsqlDataSource.Create(fixture.Stack.ReplicaConnectionString!);
        await Execute(replica, "SELECT pg_wal_replay_pause()");
        try
        {
            var mine = (await _api.SendMessageAsync(member, id, "my own write"))["id"]!.GetValue<string>();
            Assert.Equal(mine, await NewestId(member, id));
        }
        finally
        {
            await Execute(replica, "SELECT pg_wal_replay_resume()");
        }
    }

    [Fact]
    public async Task Replay_paused_past_the_lag_bound_opens_the_breaker_and_reads_stay_correct()
    {
        await SetFlag(FlagNames.HistoryReplica, true);
        var (owner, member, id, _) = await ReplicatedConversation();
        var router = fixture.Services.GetRequiredService<ReadRouter>();
        var breaker = fixture.Services.GetRequiredService<ReplicaBreaker>();
        await using var replica = NpgsqlDataSource.Create(fixture.Stack.ReplicaConnectionString!);
        await Execute(replica, "SELECT pg_wal_replay_pause()");
        try
        {
            // The owner's new message is on the primary only; the member must still see it.
            var fresh = (await _api.SendMessageAsync(owner, id, "written while replay is paused"))["id"]!.GetValue<string>();
            await Eventually.True(() => Task.FromResult(!breaker.AllowsReads), "the breaker to open on lag", TimeSpan.FromSeconds(30));
            Assert.False(router.WouldUseReplica(ReadOperation.MessageHistory, member.Id));
            Assert.Equal(fresh, await NewestId(member, id));
            // Readiness reports the replica probe's latest result, which follows within one probe.
            await Eventually.True(async () => (await ApiClient.Json(await _api.Http.GetAsync("/health/ready")))["status"]!.GetValue<string>() == "Degraded",
                "readiness to show the lagging replica");
        }
        finally
        {
            await Execute(replica, "SELECT pg_wal_replay_resume()");
        }
        await Eventually.True(() => Task.FromResult(breaker.AllowsReads), "the breaker to close after catch-up", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_stopped_replica_falls_back_to_the_primary_and_recovers()
    {
        await SetFlag(FlagNames.HistoryReplica, true);
        var (owner, member, id, _) = await ReplicatedConversation();
        var breaker = fixture.Services.GetRequiredService<ReplicaBreaker>();
        await fixture.Stack.Replica!.StopAsync();
        try
        {
            var fresh = (await _api.SendMessageAsync(owner, id, "replica is down"))["id"]!.GetValue<string>();
            for (var i = 0; i < 5; i++) Assert.Equal(fresh, await NewestId(member, id));
            await Eventually.True(() => Task.FromResult(!breaker.AllowsReads), "the breaker to open on errors", TimeSpan.FromSeconds(30));
        }
        finally
        {
            await fixture.Stack.Replica!.StartAsync();
        }
        await Eventually.True(() => Task.FromResult(breaker.AllowsReads), "the breaker to close once the replica is back", TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void Percentage_rollout_is_sticky_per_user()
    {
        var users = Enumerable.Range(0, 2000).Select(_ => Guid.NewGuid()).ToArray();
        var buckets = users.Select(u => FeatureFlags.Bucket("some.flag", u)).ToArray();
        Assert.Equal(buckets, users.Select(u => FeatureFlags.Bucket("some.flag", u)));
        Assert.All(buckets, b => Assert.InRange(b, 0, 99));
        var share = buckets.Count(b => b < 25) / (double)users.Length;
        Assert.InRange(share, 0.18, 0.32); // about a quarter of users at 25 %
    }

    [Fact]
    public async Task Only_admins_may_change_flags()
    {
        var user = await _api.NewUserAsync();
        await ApiClient.AssertProblem(await _api.SendAsync(user, HttpMethod.Put, $"/v1/admin/flags/{FlagNames.HistoryReplica}", new { enabled = true, percentage = 100 }), HttpStatusCode.Forbidden);
        await ApiClient.AssertProblem(await _api.GetAsync(user, "/v1/admin/flags"), HttpStatusCode.Forbidden);
        await ApiClient.AssertProblem(await _api.SendAsync(_admin, HttpMethod.Put, "/v1/admin/flags/x", new { enabled = true, percentage = 101 }), HttpStatusCode.BadRequest);
    }

    private static async Task Execute(NpgsqlDataSource source, string sql)
    {
        await using var cmd = source.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }
}
