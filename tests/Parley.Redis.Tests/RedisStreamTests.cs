namespace Parley.Redis.Tests;

[Trait("Category", "Integration")]
public sealed class RedisStreamTests(RedisServerFixture server) : RedisServerTest(server)
{
    private static KeyValuePair<string, string>[] Fields(int n) => [new("n", n.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("kind", "msg")];

    [Fact]
    public async Task Group_read_ack_and_pending_summary_track_each_other()
    {
        var stream = Client.Key("events");
        Assert.True(await Client.XGroupCreateAsync(stream, "g", "0"));
        Assert.False(await Client.XGroupCreateAsync(stream, "g", "0"));

        for (var i = 0; i < 5; i++)
        {
            await Client.XAddAsync(stream, Fields(i));
        }

        Assert.Equal(5, await Client.XLenAsync(stream));
        var read = await Client.XReadGroupAsync(stream, "g", "alice", count: 3);
        Assert.Equal(["0", "1", "2"], read.Select(e => e.GetString("n")));
        Assert.Equal("msg", read[0].GetString("kind"));

        var pending = await Client.XPendingAsync(stream, "g");
        Assert.Equal(3, pending.Count);
        Assert.Equal(read[0].Id, pending.SmallestId);
        Assert.Equal(read[2].Id, pending.GreatestId);
        Assert.Equal([new KeyValuePair<string, long>("alice", 3)], pending.Consumers);

        Assert.Equal(2, await Client.XAckAsync(stream, "g", [read[0].Id, read[1].Id]));
        Assert.Equal(1, (await Client.XPendingAsync(stream, "g")).Count);

        // Re-reading with id 0 returns this consumer's own pending entries.
        var mine = await Client.XReadGroupAsync(stream, "g", "alice", id: "0");
        Assert.Equal([read[2].Id], mine.Select(e => e.Id));

        var group = Assert.Single(await Client.XInfoGroupsAsync(stream));
        Assert.Equal(("g", 1L, 1L), (group.Name, group.Consumers, group.Pending));
    }

    [Fact]
    public async Task Autoclaim_takes_over_entries_of_a_dead_consumer()
    {
        var stream = Client.Key("claim");
        await Client.XGroupCreateAsync(stream, "g", "$");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await Client.XAddAsync(stream, Fields(i)));
        }

        await Client.XReadGroupAsync(stream, "g", "dead", count: 10);
        var none = await Client.XAutoClaimAsync(stream, "g", "survivor", TimeSpan.FromMinutes(1));
        Assert.Empty(none.Entries);

        // Idle at least 0 ms: every pending entry, with no wait for the clock (the 1-minute threshold above took none).
        var claimed = await Client.XAutoClaimAsync(stream, "g", "survivor", TimeSpan.Zero, count: 10);
        Assert.Equal(ids, claimed.Entries.Select(e => e.Id));
        Assert.Equal("0-0", claimed.NextStartId);
        Assert.Empty(claimed.DeletedIds);
        Assert.Equal([new KeyValuePair<string, long>("survivor", 3)], (await Client.XPendingAsync(stream, "g")).Consumers);
        Assert.Equal(3, await Client.XAckAsync(stream, "g", ids));
    }

    [Fact]
    public async Task Xadd_trims_with_maxlen_and_minid_and_xrange_reads_back()
    {
        var stream = Client.Key("trim");
        for (var i = 1; i <= 10; i++)
        {
            await Client.XAddAsync(stream, Fields(i), StreamTrim.MaxLength(5, approximate: false), id: $"{i}-0");
        }

        Assert.Equal(5, await Client.XLenAsync(stream));
        var entries = await Client.XRangeAsync(stream);
        Assert.Equal(["6-0", "7-0", "8-0", "9-0", "10-0"], entries.Select(e => e.Id));
        Assert.Equal(2, (await Client.XRangeAsync(stream, "7-0", "8-0")).Count);
        Assert.Single(await Client.XRangeAsync(stream, count: 1));

        Assert.Equal(2, await Client.XTrimAsync(stream, StreamTrim.MinId("8-0", approximate: false)));
        await Client.XAddAsync(stream, Fields(11), StreamTrim.MinId("10-0", approximate: false), id: "11-0");
        Assert.Equal(["10-0", "11-0"], (await Client.XRangeAsync(stream)).Select(e => e.Id));
    }

    [Fact]
    public async Task Blocking_group_reads_run_on_a_dedicated_connection_without_stalling_the_shared_one()
    {
        var stream = Client.Key("block");
        await Client.XGroupCreateAsync(stream, "g", "$");
        await using var dedicated = await Client.CreateDedicatedAsync();
        Assert.True(dedicated.IsDedicated);

        var waiting = dedicated.XReadGroupAsync(stream, "g", "c", count: 1, block: TimeSpan.FromSeconds(30));
        await WaitForBlockedClientsAsync();
        // The shared connection answers while the read is still blocked on the server: it does not wait behind it.
        await Client.PingAsync();
        Assert.False(waiting.IsCompleted);

        var id = await Client.XAddAsync(stream, Fields(42));
        var entry = Assert.Single(await waiting);
        Assert.Equal((id, "42"), (entry.Id, entry.GetString("n")));

        var empty = await dedicated.XReadGroupAsync(stream, "g", "c", block: TimeSpan.FromMilliseconds(50));
        Assert.Empty(empty);
    }
}
