using System.Text.Json;
using Npgsql;
using Parley.Data.Conversations;
using Parley.Data.Messages;
using Parley.Data.Migrations;
using Parley.Kit.Stack;

namespace Parley.Data.Tests;

/// <summary>
/// A primary with a realistic amount of data: 200,000 messages over 1,000 conversations of
/// 2,000 users, loaded with COPY and analysed, so the planner chooses as it would in production.
/// </summary>
public sealed class SeededDatabase : IAsyncLifetime
{
    public const int Users = 2_000;
    public const int Conversations = 1_000;
    public const int Messages = 200_000;

    public LocalStack Stack { get; private set; } = null!;
    public NpgsqlDataSource Source { get; private set; } = null!;
    public Guid[] UserIds { get; } = new Guid[Users];
    public Guid[] ConversationIds { get; } = new Guid[Conversations];
    public List<(Guid Conversation, Guid User)> Memberships { get; } = new();

    public async Task InitializeAsync()
    {
        Stack = await LocalStack.StartAsync(new StackOptions { WithReplica = false, WithPgBouncer = false, WithRedis = false });
        Source = NpgsqlDataSource.Create(Stack.PrimaryConnectionString);
        await Migrator.MigrateAsync(Source);
        var random = new Random(42);
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        await using var conn = await Source.OpenConnectionAsync();

        await using (var users = await conn.BeginBinaryImportAsync("COPY users (id, handle, display_name, password_hash, created_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < Users; i++)
            {
                UserIds[i] = Ids.NewId(start);
                await users.WriteRowAsync(default, UserIds[i], $"user{i}", $"User {i}", "x", start);
            }
            await users.CompleteAsync();
        }
        await using (var conversations = await conn.BeginBinaryImportAsync("COPY conversations (id, title, owner_id, created_at, updated_at, last_activity_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < Conversations; i++)
            {
                ConversationIds[i] = Ids.NewId(start);
                var owner = UserIds[random.Next(Users)];
                Memberships.Add((ConversationIds[i], owner));
                foreach (var member in Enumerable.Range(0, random.Next(1, 5)).Select(_ => UserIds[random.Next(Users)]).Distinct().Where(m => m != owner))
                    Memberships.Add((ConversationIds[i], member));
                await conversations.WriteRowAsync(default, ConversationIds[i], $"conversation {i}", owner, start, start, start);
            }
            await conversations.CompleteAsync();
        }
        await using (var participants = await conn.BeginBinaryImportAsync("COPY participants (conversation_id, user_id, role, joined_at) FROM STDIN (FORMAT BINARY)"))
        {
            var owners = new HashSet<Guid>();
            foreach (var (conversation, user) in Memberships)
                await participants.WriteRowAsync(default, conversation, user, owners.Add(conversation) ? "owner" : "member", start);
            await participants.CompleteAsync();
        }
        await using (var messages = await conn.BeginBinaryImportAsync("COPY messages (id, conversation_id, sender_id, body, created_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < Messages; i++)
            {
                var (conversation, sender) = Memberships[random.Next(Memberships.Count)];
                var at = start.AddSeconds(i);
                await messages.WriteRowAsync(default, Ids.NewId(at), conversation, sender, $"message {i}", at);
            }
            await messages.CompleteAsync();
        }
        await using (var touch = new NpgsqlCommand("""
            UPDATE conversations c SET last_activity_at = m.created_at, last_message_id = m.id
            FROM (SELECT DISTINCT ON (conversation_id) conversation_id, id, created_at FROM messages
                  ORDER BY conversation_id, created_at DESC, id DESC) m
            WHERE m.conversation_id = c.id
            """, conn))
            await touch.ExecuteNonQueryAsync();
        await using (var analyze = new NpgsqlCommand("VACUUM ANALYZE", conn))
            await analyze.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        await Source.DisposeAsync();
        await Stack.DisposeAsync();
    }
}

/// <summary>Seed 000's "EXPLAIN Plan Validation": each hot read is served by its index, never a Seq Scan.</summary>
[Trait("Category", "Integration")]
public sealed class ExplainPlanTests(SeededDatabase db, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<SeededDatabase>
{
    private const string HistoryIndex = "idx_messages_conversation_created";

    private async Task<JsonElement> ExplainAsync(string sql, params object[] parameters)
    {
        await using var cmd = db.Source.CreateCommand("EXPLAIN (FORMAT JSON) " + sql);
        foreach (var p in parameters) cmd.Parameters.Add(new NpgsqlParameter { Value = p });
        var json = (string)(await cmd.ExecuteScalarAsync())!;
        var plan = JsonDocument.Parse(json).RootElement[0].GetProperty("Plan");
        output.WriteLine($"plan: {Describe(plan)} (cost {plan.GetProperty("Total Cost")})");
        return plan;
    }

    private static IEnumerable<JsonElement> Nodes(JsonElement plan)
    {
        yield return plan;
        if (plan.TryGetProperty("Plans", out var children))
            foreach (var child in children.EnumerateArray())
                foreach (var node in Nodes(child))
                    yield return node;
    }

    private static string Describe(JsonElement plan) => string.Join(" > ", Nodes(plan).Select(n =>
        n.GetProperty("Node Type").GetString() + (n.TryGetProperty("Index Name", out var i) ? $"({i.GetString()})" : n.TryGetProperty("Relation Name", out var r) ? $"({r.GetString()})" : "")));

    private static void AssertNoSeqScan(JsonElement plan, string? relation = null) =>
        Assert.False(
            Nodes(plan).Any(n => n.GetProperty("Node Type").GetString() == "Seq Scan"
                && (relation is null || n.GetProperty("Relation Name").GetString() == relation)),
            $"Seq Scan{(relation is null ? "" : " on " + relation)} in plan: {Describe(plan)}");

    private static void AssertUsesIndex(JsonElement plan, string index) =>
        Assert.True(
            Nodes(plan).Any(n => n.TryGetProperty("Index Name", out var name) && name.GetString() == index),
            $"{index} not used: {Describe(plan)}");

    private Guid BusiestConversation => db.Memberships.GroupBy(m => m.Conversation).OrderByDescending(g => g.Count()).First().Key;

    [Fact]
    public async Task History_first_page_is_an_index_scan_on_the_composite_index()
    {
        var plan = await ExplainAsync(MessageStore.HistoryFirstPageSql, BusiestConversation, 51);
        Assert.Equal("Limit", plan.GetProperty("Node Type").GetString());
        var scan = plan.GetProperty("Plans")[0];
        Assert.Equal("Index Scan", scan.GetProperty("Node Type").GetString());
        Assert.Equal(HistoryIndex, scan.GetProperty("Index Name").GetString());
        // A page costs about its 50 heap fetches; a scan of the table would cost thousands.
        Assert.True(plan.GetProperty("Total Cost").GetDouble() < 250, $"cost {plan.GetProperty("Total Cost")}");
        AssertNoSeqScan(plan);
    }

    [Fact]
    public async Task History_next_page_seeks_by_row_comparison_in_the_index()
    {
        var plan = await ExplainAsync(MessageStore.HistoryOlderSql, BusiestConversation, 51, new DateTime(2026, 1, 2, 0, 0, 0, DateTimeKind.Utc), Guid.Empty);
        var scan = plan.GetProperty("Plans")[0];
        Assert.Equal(HistoryIndex, scan.GetProperty("Index Name").GetString());
        Assert.Contains("created_at", scan.GetProperty("Index Cond").GetString());
        Assert.False(scan.TryGetProperty("Filter", out _), $"the keyset condition must be an index condition, not a filter: {scan}");
        AssertNoSeqScan(plan);
    }

    [Fact]
    public async Task Catch_up_walks_the_same_index_backwards()
    {
        var plan = await ExplainAsync(MessageStore.HistoryNewerSql, BusiestConversation, 51, new DateTime(2026, 1, 2, 0, 0, 0, DateTimeKind.Utc), Guid.Empty);
        var scan = plan.GetProperty("Plans")[0];
        Assert.True(scan.GetProperty("Node Type").GetString()!.StartsWith("Index Scan", StringComparison.Ordinal), Describe(plan));
        Assert.Equal(HistoryIndex, scan.GetProperty("Index Name").GetString());
        AssertNoSeqScan(plan);
    }

    [Fact]
    public async Task Unread_count_uses_the_composite_index()
    {
        var (conversation, user) = db.Memberships[10];
        var plan = await ExplainAsync(ConversationStore.UnreadCountsSql, user, new[] { conversation });
        AssertUsesIndex(plan, HistoryIndex);
        AssertNoSeqScan(plan);
    }

    [Fact]
    public async Task Conversation_list_is_driven_by_the_membership_index_with_no_seq_scan_on_messages()
    {
        var user = db.Memberships.GroupBy(m => m.User).OrderByDescending(g => g.Count()).First().Key;
        var plan = await ExplainAsync(ConversationStore.ListFirstPageSql, user, 21);
        AssertUsesIndex(plan, "idx_participants_user");
        AssertUsesIndex(plan, HistoryIndex); // the unread count
        AssertNoSeqScan(plan, "messages");
        AssertNoSeqScan(plan, "participants");
    }

    [Fact]
    public async Task Membership_check_is_a_primary_key_lookup()
    {
        var (conversation, user) = db.Memberships[0];
        var plan = await ExplainAsync(ConversationAccess.Sql, conversation, user);
        AssertUsesIndex(plan, "participants_pkey");
        AssertNoSeqScan(plan);
    }
}
