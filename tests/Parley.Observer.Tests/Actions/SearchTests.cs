using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Observer.Tests.Infrastructure;
using Parley.Data.Search;
using Parley.Observer.Actions;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Observer.Tests.Actions;

[Trait("Category", "Integration")]
public sealed class SearchTests(SearchFixture fixture) : IClassFixture<SearchFixture>
{
    private ApiClient Api => fixture.Api;

    private async Task<List<Guid>> SearchAsync(ApiUser user, string q, int limit = 20, string? cursor = null)
    {
        var page = await SearchPageAsync(user, q, limit, cursor);
        return page.Ids;
    }

    private async Task<(List<Guid> Ids, string? Next)> SearchPageAsync(ApiUser user, string q, int limit, string? cursor)
    {
        var response = await Api.GetAsync(user, $"/v1/search/messages?q={Uri.EscapeDataString(q)}&limit={limit}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ApiClient.Json(response);
        var ids = body["items"]!.AsArray().Select(item => Guid.Parse((string)item!["id"]!)).ToList();
        return (ids, (string?)body["nextCursor"]);
    }

    [Fact]
    public async Task A_search_returns_only_messages_of_the_caller_s_own_conversations()
    {
        var word = SearchFixture.UniqueWord();
        ApiUser alice = await Api.NewUserAsync("sa"), bob = await Api.NewUserAsync("sb"), carol = await Api.NewUserAsync("sc"), eve = await Api.NewUserAsync("se");
        var ours = await Api.CreateConversationAsync(alice, bob);
        var theirs = await Api.CreateConversationAsync(carol);
        var mine = await fixture.SendIndexedAsync(alice, ours, $"lunch {word} today");
        var other = await fixture.SendIndexedAsync(carol, theirs, $"{word} is secret");

        Assert.Equal([mine], await SearchAsync(alice, word));
        Assert.Equal([mine], await SearchAsync(bob, word));
        Assert.Equal([other], await SearchAsync(carol, word));
        Assert.Empty(await SearchAsync(eve, word));
        Assert.Empty(await SearchAsync(alice, SearchFixture.UniqueWord()));

        // A removed participant no longer finds the conversation's messages.
        var removed = await Api.SendAsync(alice, HttpMethod.Delete, $"/v1/conversations/{ours}/participants/{bob.Id}");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        Assert.Empty(await SearchAsync(bob, word));
    }

    [Fact]
    public async Task A_search_is_web_search_syntax_and_the_best_match_comes_first()
    {
        var (word, other) = (SearchFixture.UniqueWord(), SearchFixture.UniqueWord());
        var user = await Api.NewUserAsync("sw");
        var conversation = await Api.CreateConversationAsync(user);
        var once = await fixture.SendIndexedAsync(user, conversation, $"{word} and a lot of other words around it to dilute the match");
        var thrice = await fixture.SendIndexedAsync(user, conversation, $"{word} {word} {word}");
        var both = await fixture.SendIndexedAsync(user, conversation, $"{word} with {other}");

        Assert.Equal(thrice, (await SearchAsync(user, word))[0]);
        Assert.Equal([both], await SearchAsync(user, $"{word} {other}"));
        Assert.Equal([thrice, once], await SearchAsync(user, $"{word} -{other}"));
        Assert.Equal([both], await SearchAsync(user, $"\"{word} with\""));
        Assert.Empty(await SearchAsync(user, "\"unbalanced ( syntax & | !"));
    }

    [Fact]
    public async Task Paging_with_the_cursor_returns_every_match_once_in_the_order_of_one_big_page_even_while_messages_arrive()
    {
        var word = SearchFixture.UniqueWord();
        var user = await Api.NewUserAsync("sp");
        var conversation = await Api.CreateConversationAsync(user);
        for (var i = 0; i < 8; i++)
            await fixture.SendIndexedAsync(user, conversation, string.Join(' ', Enumerable.Repeat(word, 1 + i % 3)) + $" message {i}");
        var all = await SearchAsync(user, word, limit: 100);
        Assert.Equal(8, all.Count);

        var paged = new List<Guid>();
        string? cursor = null;
        for (var page = 0; page < 10; page++)
        {
            var (ids, next) = await SearchPageAsync(user, word, 3, cursor);
            paged.AddRange(ids);
            if (page == 0)
                await fixture.SendIndexedAsync(user, conversation, $"{word} {word} {word} {word} arrives while paging");
            cursor = next;
            if (cursor is null) break;
        }

        Assert.Equal(paged.Distinct().Count(), paged.Count);
        Assert.Equal(all, paged.Where(all.Contains));
    }

    [Fact]
    public async Task The_messages_of_a_deleted_conversation_leave_the_index_and_a_late_retry_does_not_bring_them_back()
    {
        var word = SearchFixture.UniqueWord();
        var user = await Api.NewUserAsync("sd");
        var conversation = await Api.CreateConversationAsync(user);
        var message = await Api.SendMessageAsync(user, conversation, $"{word} soon gone");
        var created = SearchFixture.Event("message.created", conversation, message);
        Assert.Equal(ActionOutcome.Succeeded, (await fixture.Runner.RunAsync(created, CancellationToken.None)).Outcome);
        Assert.Equal(1, await fixture.IndexedAsync(conversation));

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(user, HttpMethod.Delete, $"/v1/conversations/{conversation}")).StatusCode);
        Assert.Empty(await SearchAsync(user, word)); // Hidden at once: the search joins live conversations.
        var deleted = SearchFixture.Event("conversation.deleted", conversation);
        Assert.Equal(ActionOutcome.Succeeded, (await fixture.Runner.RunAsync(deleted, CancellationToken.None)).Outcome);
        Assert.Equal(0, await fixture.IndexedAsync(conversation));

        Assert.Equal(ActionOutcome.Succeeded, (await fixture.Runner.RunAsync(created with { Attempt = 2 }, CancellationToken.None)).Outcome);
        Assert.Equal(0, await fixture.IndexedAsync(conversation));
    }

    [Fact]
    public async Task A_running_observer_indexes_sent_messages_for_search_and_removes_a_deleted_conversation_s()
    {
        var word = SearchFixture.UniqueWord();
        var user = await Api.NewUserAsync("so");
        var conversation = await Api.CreateConversationAsync(user);
        var name = "search" + Guid.NewGuid().ToString("N")[..10];
        // The built-in rule comes with every rules file; this file's own rule never matches.
        var rules = Parley.Observer.Rules.RulesFile.Parse("""
            rules:
              - name: nothing
                source: parley
                on: [conversation.updated]
                when: { field: data.never, op: exists, value: true }
                actions:
                  - name: none
                    index: { name: none, text: "-" }
            """, strict: true).Rules!;
        var observer = Parley.Observer.Hosting.ObserverHost.Build(["--urls", "http://127.0.0.1:0"], rules, builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Parley:Data:PrimaryConnectionString"] = fixture.Stack.PrimaryConnectionString,
                ["Parley:Redis:Endpoint"] = fixture.Stack.RedisEndpoint,
                ["Parley:Observer:Name"] = name,
                ["Parley:Observer:PollInterval"] = "00:00:00.050",
            });
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await observer.StartAsync();
        try
        {
            var identity = observer.Services.GetRequiredService<Parley.Observer.Hosting.ObserverIdentity>();
            await Wait.For(() => identity.Streaming, "the observer to lead and read its slot");
            var sent = await Api.SendMessageAsync(user, conversation, $"found by {word}");

            await Wait.For(async () => (await SearchAsync(user, word)).Count == 1, "the observer to index the sent message");
            Assert.Equal([Guid.Parse((string)sent["id"]!)], await SearchAsync(user, word));

            Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(user, HttpMethod.Delete, $"/v1/conversations/{conversation}")).StatusCode);
            await Wait.For(async () => await fixture.IndexedAsync(conversation) == 0, "the observer to remove the deleted conversation's messages");
        }
        finally
        {
            await observer.StopAsync();
            await observer.DisposeAsync();
            await ObserverFixture.DropGroupAsync(fixture.Database.Primary, name);
        }
    }

    [Fact]
    public async Task Indexing_the_same_message_event_again_leaves_one_document()
    {
        var word = SearchFixture.UniqueWord();
        var user = await Api.NewUserAsync("si");
        var conversation = await Api.CreateConversationAsync(user);
        var message = await Api.SendMessageAsync(user, conversation, word);
        var created = SearchFixture.Event("message.created", conversation, message);

        for (var attempt = 1; attempt <= 3; attempt++)
            Assert.Equal(ActionOutcome.Succeeded, (await fixture.Runner.RunAsync(created with { Attempt = attempt }, CancellationToken.None)).Outcome);

        Assert.Equal(1, await fixture.IndexedAsync(conversation));
        Assert.Single(await SearchAsync(user, word));
    }

    [Fact]
    public async Task An_index_action_upserts_under_the_event_id_so_a_replay_writes_nothing_and_other_indexes_are_apart()
    {
        var (word, index) = (SearchFixture.UniqueWord(), "orders-" + Guid.NewGuid().ToString("N")[..8]);
        var e = Work.Event();
        var work = new ActionWork(e, "big-orders", "index-orders", new IndexSpec(index, $"rush order {word}"), 1);

        Assert.Equal(ActionOutcome.Succeeded, (await fixture.Runner.RunAsync(work, CancellationToken.None)).Outcome);
        var version = await RowVersionAsync(index, e.Id);
        Assert.Equal(ActionOutcome.Succeeded, (await fixture.Runner.RunAsync(work with { Attempt = 2 }, CancellationToken.None)).Outcome);

        Assert.Equal(version, await RowVersionAsync(index, e.Id)); // The replay did not rewrite the row.
        var hit = Assert.Single(await fixture.Store.SearchAsync(index, word, 10, CancellationToken.None));
        Assert.Equal((e.Id, $"rush order {word}"), (hit.DocumentId, hit.Body));
        Assert.Empty(await fixture.Store.SearchAsync("other-" + index, word, 10, CancellationToken.None));
        Assert.Empty(await fixture.Store.SearchAsync(SearchStore.MessagesIndex, word, 10, CancellationToken.None));

        await fixture.Runner.RunAsync(work with { Spec = new IndexSpec(index, "changed text") }, CancellationToken.None);
        Assert.Empty(await fixture.Store.SearchAsync(index, word, 10, CancellationToken.None));
        Assert.Single(await fixture.Store.SearchAsync(index, "changed", 10, CancellationToken.None));
    }

    private async Task<string> RowVersionAsync(string index, string documentId)
    {
        await using var cmd = fixture.Database.Primary.CreateCommand("SELECT xmin::text FROM search_documents WHERE index_name = $1 AND document_id = $2");
        cmd.Parameters.Add(new() { Value = index });
        cmd.Parameters.Add(new() { Value = documentId });
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_message_event_without_its_fields_fails_the_attempt_and_writes_nothing()
    {
        var conversation = Guid.NewGuid();
        var work = SearchFixture.Event("message.created", conversation, new System.Text.Json.Nodes.JsonObject { ["body"] = "no id" });

        var result = await fixture.Runner.RunAsync(work, CancellationToken.None);

        Assert.Equal(ActionOutcome.Failed, result.Outcome);
        Assert.Contains("data.message.id", result.Error, StringComparison.Ordinal);
        Assert.Equal(0, await fixture.IndexedAsync(conversation));
    }

    [Theory]
    [InlineData("", "q")]
    [InlineData("q=", "q")]
    [InlineData("q=%20%20", "q")]
    [InlineData("q=a%00b", "q")]
    [InlineData("q=x&limit=0", "limit")]
    [InlineData("q=x&limit=101", "limit")]
    [InlineData("q=x&cursor=not-a-cursor", "cursor")]
    public async Task Bad_search_input_is_a_400_problem_naming_the_field(string query, string field)
    {
        var user = await Api.NewUserAsync("sq");

        var problem = await ApiClient.AssertProblem(await Api.GetAsync(user, "/v1/search/messages?" + query), HttpStatusCode.BadRequest);

        Assert.NotNull(problem["errors"]?[field]);
    }

    [Fact]
    public async Task An_oversized_query_a_non_numeric_limit_and_a_cursor_of_another_query_or_user_are_400s()
    {
        var word = SearchFixture.UniqueWord();
        ApiUser user = await Api.NewUserAsync("so"), other = await Api.NewUserAsync("so");
        var conversation = await Api.CreateConversationAsync(user, other);
        for (var i = 0; i < 3; i++)
            await fixture.SendIndexedAsync(user, conversation, $"{word} {i}");
        var (_, cursor) = await SearchPageAsync(user, word, 1, null);
        Assert.NotNull(cursor);

        await ApiClient.AssertProblem(await Api.GetAsync(user, $"/v1/search/messages?q={new string('a', 257)}"), HttpStatusCode.BadRequest);
        await ApiClient.AssertProblem(await Api.GetAsync(user, "/v1/search/messages?q=x&limit=abc"), HttpStatusCode.BadRequest);
        await ApiClient.AssertProblem(await Api.GetAsync(user, $"/v1/search/messages?q={word}%20x&cursor={Uri.EscapeDataString(cursor)}"), HttpStatusCode.BadRequest);
        await ApiClient.AssertProblem(await Api.GetAsync(other, $"/v1/search/messages?q={word}&cursor={Uri.EscapeDataString(cursor)}"), HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync(user, $"/v1/search/messages?q={new string('a', 256)}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Api.GetAsync(null, $"/v1/search/messages?q={word}")).StatusCode);
    }
}
