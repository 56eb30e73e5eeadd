using Npgsql;

namespace Parley.Data.Tests.Chaos;

/// <summary>
/// Concurrency (seed 004, concurrent): parallel clients race on one conversation through the real store; afterwards
/// the rows keep the invariants: the version counts the applied renames and the delete, nothing is applied after the
/// delete, each user's membership events alternate and end where the membership is, no message of a user is stored
/// after the event of their removal, and the Ok answers are exactly the events written. Read markers raced by one
/// user end on the newest message any of them marked.
/// </summary>
[Collection(ChaosPostgresCollection.Name)]
[Trait("Category", "Chaos")]
[Trait("Tier", "Smoke")]
[Trait("Kind", "concurrent")]
public sealed class ConversationRaceTests(ChaosPostgres server)
{
    public static TheoryData<string, int> Races
    {
        get
        {
            var races = new TheoryData<string, int>();
            foreach (var race in new[] { "rename vs rename", "rename vs delete", "add vs remove", "add vs delete", "remove vs delete", "send vs remove", "send vs delete" })
            foreach (var clients in new[] { 4, 16 })
                races.Add(race, clients);
            return races;
        }
    }

    [Theory]
    [MemberData(nameof(Races))]
    public async Task Parallel_clients_on_one_conversation_keep_the_invariants(string race, int clients)
    {
        await using var chaos = await ConversationChaos.StartAsync(server);
        var before = await chaos.ReadAsync();
        var store = chaos.Store;
        var (id, owner, users) = (chaos.Conversation, chaos.Owner, chaos.Users);
        var versions = Enumerable.Range(1, clients + 1).ToArray();
        Func<int, Task<bool>> client = race switch
        {
            "rename vs rename" => i => Ok(store.UpdateTitleAsync(id, owner, [1], $"c{i}", default)),
            "rename vs delete" => i => i == 0 ? Ok(store.DeleteAsync(id, owner, default)) : Ok(store.UpdateTitleAsync(id, owner, versions, $"c{i}", default)),
            "add vs remove" => i => i / 4 % 2 == 0
                ? Ok(store.AddParticipantAsync(id, owner, users[i % 4], default))
                : Ok(store.RemoveParticipantAsync(id, owner, users[i % 4], default)),
            "add vs delete" => i => i == 0 ? Ok(store.DeleteAsync(id, owner, default)) : Ok(store.AddParticipantAsync(id, owner, users[1 + (i % 3)], default)),
            "send vs remove" => i => i == clients / 2 ? Ok(store.RemoveParticipantAsync(id, owner, users[0], default))
                : Ok(chaos.Messages.SendAsync(id, users[0], $"race {i}", $"c{i}", default)),
            "send vs delete" => i => i == clients / 2 ? Ok(store.DeleteAsync(id, owner, default))
                : Ok(chaos.Messages.SendAsync(id, i % 2 == 0 ? owner : users[0], $"race {i}", $"c{i}", default)),
            _ => i => i == 0 ? Ok(store.DeleteAsync(id, owner, default)) : Ok(store.RemoveParticipantAsync(id, owner, users[0], default)),
        };

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = Enumerable.Range(0, clients).Select(i => Task.Run(async () => { await start.Task; return await client(i); })).ToArray();
        start.SetResult();
        var answers = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(1));

        var after = await chaos.ReadAsync();
        var events = after.Events.Skip(before.Events.Count).ToList();
        var context = $"{race}, {clients} clients: {answers.Count(a => a)} Ok; {after}";
        Assert.True(answers.Count(a => a) == events.Count, context + ": the Ok answers are not the events written");
        Assert.True(after.Version == 1 + after.Events.Count(e => e.Type is "conversation.updated" or "conversation.deleted"), context + ": the version does not count the changes");
        var deleted = after.Events.FindIndex(e => e.Type == "conversation.deleted");
        Assert.True(deleted < 0 || deleted == after.Events.Count - 1, context + ": a change was applied after the delete");
        Assert.Equal(deleted >= 0, after.Deleted);
        foreach (var user in users)
        {
            var own = events.Where(e => e.User == user && e.Type.StartsWith("participant.")).Select(e => e.Type).ToList(); // membership events, from the state before the race
            var member = before.Members.Contains(user);
            foreach (var type in own)
            {
                Assert.True(type == (member ? "participant.removed" : "participant.added"), context + $": membership events of a user do not alternate: {string.Join(", ", own)}");
                member = !member;
            }
            Assert.Equal(member, after.Members.Contains(user));
            var removed = after.Events.FindIndex(e => e == ("participant.removed", user));
            Assert.True(removed < 0 || !after.Events.Skip(removed).Any(e => e == ("message.created", user)), context + ": a message was stored after its sender's removal");
        }
        Assert.Equal(after.Events.Count(e => e.Type == "message.created"), after.Messages.Count);
        if (race == "rename vs rename") Assert.Single(answers, a => a);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(16)]
    public async Task Parallel_read_markers_of_one_user_end_on_the_newest_message_marked(int clients)
    {
        await using var chaos = await ConversationChaos.StartAsync(server);
        var (id, reader) = (chaos.Conversation, chaos.Users[0]);
        var sent = new List<Guid>();
        for (var i = 0; i < 8; i++)
            sent.Add((await chaos.Messages.SendAsync(id, chaos.Owner, $"m{i}", $"m{i}", default)).Value!.Message.Id);
        var marked = Enumerable.Range(0, clients).Select(i => (i * 5) % 7).ToArray(); // never the last message: it is not always the newest marked

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = marked.Select(m => Task.Run(async () => { await start.Task; return await Ok(chaos.Messages.MarkReadAsync(id, reader, sent[m], default)); })).ToArray();
        start.SetResult();
        var answers = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(1));

        var after = await chaos.ReadAsync();
        Assert.All(answers, Assert.True);
        Assert.Equal($"m{marked.Max()}", after.ReadMarkers[reader]);
        Assert.Equal(8, after.Events.Count(e => e.Type == "message.created"));
    }

    /// <summary>
    /// A send whose statement starts while a delete of its conversation is still committing must wait for that delete
    /// and then store nothing: a snapshot taken before the delete's commit must not let a message into a deleted
    /// conversation. The delete is held open in its own transaction until the send's backend waits on its lock (or
    /// the send has answered, which is the defect).
    /// </summary>
    [Fact]
    public async Task A_send_during_an_uncommitted_delete_waits_for_it_and_stores_nothing()
    {
        await using var chaos = await ConversationChaos.StartAsync(server);
        await using var conn = await chaos.Db.Source.OpenConnectionAsync();
        await using var delete = await conn.BeginTransactionAsync();
        await using (var cmd = new NpgsqlCommand("UPDATE conversations SET deleted_at = now(), version = version + 1 WHERE id = $1", conn, delete))
        {
            cmd.Parameters.Add(new() { Value = chaos.Conversation });
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        var send = chaos.Messages.SendAsync(chaos.Conversation, chaos.Users[0], "during the delete", "d1", default);
        var waiting = false;
        for (var i = 0; i < 200 && !waiting && !send.IsCompleted; i++) // bounded: 20 s
        {
            await Task.Delay(100);
            await using var probe = chaos.Db.Source.CreateCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
            waiting = (long)(await probe.ExecuteScalarAsync())! > 0;
        }
        if (send.IsCompleted) Assert.Fail($"the send answered {(await send).Status} while the delete was uncommitted");
        Assert.True(waiting, "the send never waited on the delete's lock");
        await delete.CommitAsync();

        var answer = await send.WaitAsync(TimeSpan.FromSeconds(30));
        var after = await chaos.ReadAsync();
        Assert.NotEqual(OutcomeStatus.Ok, answer.Status);
        Assert.Empty(after.Messages);
        Assert.DoesNotContain(after.Events, e => e.Type == "message.created");
    }

    private static async Task<bool> Ok<T>(Task<Outcome<T>> outcome) => (await outcome).Status == OutcomeStatus.Ok;
}
