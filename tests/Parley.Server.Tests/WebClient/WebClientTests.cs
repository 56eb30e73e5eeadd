using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Parley.Kit.Chaos.Nodes;
using Parley.Kit.Stack;
using Parley.Server.Features.Realtime;
using Parley.Server.Tests.Infrastructure;
using Parley.Server.Tests.Realtime;
using static Microsoft.Playwright.Assertions;
using Parley.Kit.Load;

namespace Parley.Server.Tests.WebClient;

/// <summary>
/// The web client at <c>/</c> in a real headless Chromium against the real stack and server. Each
/// test registers its own users; expectations wait on the page (Playwright's auto-wait, bounded by
/// <see cref="BrowserFixture.Wait"/>), nothing sleeps and nothing is timed.
/// </summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class WebClientTests(ParleyFixture fixture, BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private async Task<(ApiClient Api, ApiUser Ada, ApiUser Bob)> TwoUsersAsync()
    {
        var api = fixture.Client();
        return (api, await api.NewUserAsync("ada"), await api.NewUserAsync("bob"));
    }

    /// <summary>Ada's conversation with Bob holding <paramref name="first"/>, and Bob signed in (live) in a browser.</summary>
    private async Task<(ApiClient Api, ApiUser Ada, ApiUser Bob, Guid Conversation, ChatPage BobPage)> BobSignedInAsync(string first)
    {
        var (api, ada, bob) = await TwoUsersAsync();
        var conversation = await api.CreateConversationAsync(ada, bob);
        await api.SendMessageAsync(ada, conversation, first);
        return (api, ada, bob, conversation, await ChatPage.SignInAsync(browser, fixture.BaseAddress, bob.Handle));
    }

    [Fact]
    public async Task Two_users_chat_and_each_message_appears_in_the_other_browser_without_a_reload()
    {
        var (api, ada, bob) = await TwoUsersAsync();
        using var _ = api;
        var adaPage = await ChatPage.SignInAsync(browser, fixture.BaseAddress, ada.Handle);
        var bobPage = await ChatPage.SignInAsync(browser, fixture.BaseAddress, bob.Handle);

        // Ada starts the conversation in the page, naming Bob by handle.
        await adaPage.Page.GetByRole(AriaRole.Button, new() { Name = "New conversation" }).ClickAsync();
        await adaPage.Page.GetByLabel("Title (optional)").FillAsync("lunch");
        await adaPage.Page.GetByLabel("Participants’ handles", new() { Exact = false }).FillAsync(bob.Handle);
        await adaPage.Page.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();
        await Expect(adaPage.Page.Locator("#conversation-title")).ToHaveTextAsync("lunch");

        // The new conversation appears in Bob's list at once, before any message (its participant.added event), then
        // the first message comes into it, live.
        var conversation = Guid.Parse((await adaPage.Page.Locator("#conversation-list [aria-current='true']").GetAttributeAsync("data-conversation-id"))!);
        await Expect(bobPage.Conversation(conversation)).ToContainTextAsync("lunch");
        await adaPage.SendAsync("hello bob");
        await Expect(bobPage.Conversation(conversation)).ToContainTextAsync("hello bob");
        await bobPage.OpenAsync(conversation);
        await Expect(bobPage.MessageWithBody("hello bob")).ToHaveCountAsync(1);

        // Bob types: Ada sees the indicator (an ephemeral event), then his reply, with no reload on either side.
        await bobPage.Composer.PressSequentiallyAsync("on my way");
        await Expect(adaPage.Page.Locator("#typing")).ToHaveTextAsync($"{bob.Handle} is typing…");
        await bobPage.Composer.PressAsync("Enter");
        await Expect(adaPage.MessageWithBody("on my way")).ToHaveCountAsync(1);
        await adaPage.SendAsync("see you");
        await Expect(bobPage.MessageWithBody("see you")).ToHaveCountAsync(1);

        string[] expected = ["hello bob", "on my way", "see you"];
        await Expect(adaPage.Messages).ToHaveCountAsync(3);
        await Expect(bobPage.Messages).ToHaveCountAsync(3);
        Assert.Equal(expected, await adaPage.BodiesAsync());
        Assert.Equal(expected, await bobPage.BodiesAsync());
        // Stored once each: the optimistic bubble became the stored message, not a second copy.
        var stored = await api.MessageIdsAsync(ada, conversation);
        Assert.Equal(3, stored.Count);
        await adaPage.CloseAsync();
        await bobPage.CloseAsync();
    }

    [Fact]
    public async Task The_unread_badge_counts_live_messages_and_clears_once_they_are_read()
    {
        var (api, ada, bob, conversation, bobPage) = await BobSignedInAsync("first");
        using var _ = api;
        await Expect(bobPage.Badge(conversation)).ToHaveTextAsync("1");

        await api.SendMessageAsync(ada, conversation, "second");
        await api.SendMessageAsync(ada, conversation, "third");
        await Expect(bobPage.Badge(conversation)).ToHaveTextAsync("3");
        await Expect(bobPage.Conversation(conversation)).ToContainTextAsync("third");

        await bobPage.OpenAsync(conversation);
        await Expect(bobPage.Messages).ToHaveCountAsync(3);
        await Expect(bobPage.Badge(conversation)).ToHaveCountAsync(0);
        // The read marker reached the server: a reload shows no badge either.
        await Eventually.True(async () =>
        {
            var list = await ApiClient.Json(await api.GetAsync(bob, "/v1/conversations"));
            return list["items"]!.AsArray().Single(c => c!["id"]!.GetValue<string>() == conversation.ToString())!["unreadCount"]!.GetValue<int>() == 0;
        }, "Bob's read marker on the newest message", BrowserFixture.Wait);
        await bobPage.Page.ReloadAsync();
        await bobPage.WaitLiveAsync();
        await Expect(bobPage.Conversation(conversation)).ToContainTextAsync("third");
        await Expect(bobPage.Badge(conversation)).ToHaveCountAsync(0);

        // A message to a conversation that is not open counts again.
        var other = await api.CreateConversationAsync(ada, bob);
        await api.SendMessageAsync(ada, other, "elsewhere");
        await Expect(bobPage.Badge(other)).ToHaveTextAsync("1");
        await bobPage.CloseAsync();
    }

    [Fact]
    public async Task Scrolling_up_loads_every_older_page_with_no_gap_and_no_repeat()
    {
        var (api, ada, bob) = await TwoUsersAsync();
        using var _ = api;
        var conversation = await api.CreateConversationAsync(ada, bob);
        const int count = 95; // the client pages 30 at a time: four pages, the last one short
        var expected = new List<string>();
        for (var i = 1; i <= count; i++)
        {
            var body = $"message {i:000}";
            await api.SendMessageAsync(i % 3 == 0 ? bob : ada, conversation, body);
            expected.Add(body);
        }
        var bobPage = await ChatPage.SignInAsync(browser, fixture.BaseAddress, bob.Handle);
        await bobPage.OpenAsync(conversation);
        await Expect(bobPage.MessageWithBody($"message {count:000}")).ToBeVisibleAsync();
        Assert.True(await bobPage.Messages.CountAsync() < count, "the first view holds one page, not the whole history");

        var messages = bobPage.Page.Locator("#messages");
        for (var round = 0; round < 20 && await bobPage.HistoryStatus.TextContentAsync() != "This is the beginning of the conversation."; round++)
        {
            var shown = await bobPage.Messages.CountAsync();
            await messages.EvaluateAsync("box => box.scrollTop = 0");
            // Wait for the next page (or the beginning) before scrolling again.
            await Expect(bobPage.Page.Locator($"#message-list > li[data-message-id] >> nth={shown}").Or(
                bobPage.HistoryStatus.GetByText("This is the beginning of the conversation."))).Not.ToHaveCountAsync(0);
        }
        await Expect(bobPage.HistoryStatus).ToHaveTextAsync("This is the beginning of the conversation.");
        Assert.Equal(expected, await bobPage.BodiesAsync());
        var ids = await bobPage.Messages.EvaluateAllAsync<string[]>("items => items.map(i => i.dataset.messageId)");
        Assert.Equal(count, ids.Distinct().Count());
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        await bobPage.CloseAsync();
    }

    [Fact]
    public async Task A_removed_participant_stops_seeing_the_conversation_at_once()
    {
        var (api, ada, bob, conversation, bobPage) = await BobSignedInAsync("before the removal");
        using var _ = api;
        var adaPage = await ChatPage.SignInAsync(browser, fixture.BaseAddress, ada.Handle);
        await bobPage.OpenAsync(conversation);
        await Expect(bobPage.MessageWithBody("before the removal")).ToHaveCountAsync(1);

        await adaPage.OpenAsync(conversation);
        await adaPage.Page.GetByRole(AriaRole.Button, new() { Name = "Participants" }).ClickAsync();
        await adaPage.Page.GetByRole(AriaRole.Button, new() { Name = $"Remove {bob.Handle}" }).ClickAsync();
        await Expect(adaPage.Page.Locator($"#participant-list [data-user-id='{bob.Id}']")).ToHaveCountAsync(0);

        // Bob's open view closes and the conversation leaves his list, with no reload.
        await Expect(bobPage.Page.Locator("#conversation")).ToBeHiddenAsync();
        await Expect(bobPage.Conversation(conversation)).ToHaveCountAsync(0);
        await Expect(bobPage.Page.Locator("#notice")).ToContainTextAsync("You were removed from the conversation.");
        // And nothing sent afterwards reaches his page: the next message is refused to him by the server too.
        await api.SendMessageAsync(ada, conversation, "after the removal");
        await Expect(adaPage.MessageWithBody("after the removal")).ToHaveCountAsync(1);
        await ApiClient.AssertProblem(await api.GetAsync(bob, $"/v1/conversations/{conversation}/messages"), HttpStatusCode.Forbidden);
        await Expect(bobPage.Page.GetByText("after the removal")).ToHaveCountAsync(0);
        await adaPage.CloseAsync();
        await bobPage.CloseAsync();
    }

    [Fact]
    public async Task After_the_server_drops_its_socket_the_client_shows_reconnecting_resumes_and_misses_nothing()
    {
        var (api, ada, bob, conversation, bobPage) = await BobSignedInAsync("before the drop");
        using var _ = api;
        await bobPage.OpenAsync(conversation);
        await Expect(bobPage.MessageWithBody("before the drop")).ToHaveCountAsync(1);

        // The browser cannot reach the server for a while (so the gap is certain), and the server drops Bob's socket.
        await bobPage.Page.Context.SetOfflineAsync(true);
        var hub = fixture.Services.GetRequiredService<ConnectionHub>();
        foreach (var connection in hub.ConnectionsOf(bob.Id)) connection.RequestClose(CloseCodes.InternalError);
        await Expect(bobPage.Page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Reconnecting…");

        var missed = new List<string>();
        for (var i = 1; i <= 5; i++)
        {
            var body = $"while away {i}";
            await api.SendMessageAsync(ada, conversation, body);
            missed.Add(body);
        }
        await bobPage.Page.Context.SetOfflineAsync(false);
        await bobPage.WaitLiveAsync();
        await Expect(bobPage.MessageWithBody("while away 5")).ToHaveCountAsync(1);
        await api.SendMessageAsync(ada, conversation, "after the return");
        await Expect(bobPage.MessageWithBody("after the return")).ToHaveCountAsync(1);

        Assert.Equal(["before the drop", .. missed, "after the return"], await bobPage.BodiesAsync());
        await bobPage.CloseAsync();
    }

    [Fact]
    public async Task A_node_killed_behind_the_balancer_costs_the_page_nothing_it_comes_back_through_the_other()
    {
        var id = $"web-{Random.Shared.Next(100_000)}";
        var nodes = new List<ParleyNode>();
        try
        {
            for (var n = 1; n <= 2; n++)
                nodes.Add(await ParleyNode.StartAsync($"{id}-{n}", new Dictionary<string, string?>(fixture.Settings) { ["Parley:Node:Id"] = $"{id}-{n}" }));
            await fixture.Stack.StartBalancerAsync([new BalancedNode("node-1", nodes[0].BaseAddress.Port), new BalancedNode("node-2", nodes[1].BaseAddress.Port)]);
            await fixture.Stack.BalancerRuntime!.WaitUntilCheckedAsync(BrowserFixture.Wait);
            var (api, ada, bob) = await TwoUsersAsync();
            using var _ = api;
            var conversation = await api.CreateConversationAsync(ada, bob);
            await api.SendMessageAsync(ada, conversation, "before the kill");
            var bobPage = await ChatPage.SignInAsync(browser, fixture.Stack.BalancerUrl!, bob.Handle);
            await bobPage.OpenAsync(conversation);
            await Expect(bobPage.MessageWithBody("before the kill")).ToHaveCountAsync(1);
            // Every state the connection badge shows from now on.
            await bobPage.Page.EvaluateAsync("""
                () => { window.states = []; new MutationObserver(() => window.states.push(document.getElementById('connection').dataset.state))
                    .observe(document.getElementById('connection'), { attributes: true, attributeFilter: ['data-state'] }); }
                """);

            // The node holding Bob's socket (the only socket on these fresh nodes) is killed with SIGKILL.
            ParleyNode? holder = null;
            await Eventually.True(async () =>
            {
                foreach (var node in nodes)
                {
                    using var http = new HttpClient { BaseAddress = node.BaseAddress };
                    if (await MetricsScrape.ValueAsync(http, "parley_ws_connections") >= 1) holder = node;
                }
                return holder is not null;
            }, "the node that holds Bob's socket", BrowserFixture.Wait);
            await holder!.KillAsync();
            var survivor = nodes.Single(n => n != holder);
            using var direct = new ApiClient(new HttpClient { BaseAddress = survivor.BaseAddress, Timeout = BrowserFixture.Wait });
            var sent = new List<string>();
            for (var i = 1; i <= 5; i++)
            {
                sent.Add($"after the kill {i}");
                await direct.SendMessageAsync(ada, conversation, sent[^1]);
            }

            await Expect(bobPage.MessageWithBody("after the kill 5")).ToHaveCountAsync(1);
            await bobPage.WaitLiveAsync();
            Assert.Equal(["before the kill", .. sent], await bobPage.BodiesAsync());
            Assert.Contains("reconnecting", await bobPage.Page.EvaluateAsync<string[]>("() => window.states"));
            await bobPage.CloseAsync();
        }
        finally
        {
            await fixture.Stack.StopBalancerAsync();
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_send_whose_answer_is_lost_is_retried_with_the_same_client_message_id_and_stored_once()
    {
        var (api, ada, bob, conversation, bobPage) = await BobSignedInAsync("hello");
        using var _ = api;
        // The stored message's live event is lost too, so only the retry can confirm the bubble.
        var tap = await SocketTap.RouteAsync(bobPage);
        tap.Dropping = true;
        await bobPage.OpenAsync(conversation);
        // The first send reaches the server, which stores it; its answer never reaches the page (a connection reset).
        var lost = 0;
        var answers = new List<(int Status, string? Replay)>();
        await bobPage.Page.RouteAsync(new Regex($"/v1/conversations/{conversation}/messages$"), async route =>
        {
            if (route.Request.Method != "POST" || Interlocked.Increment(ref lost) > 1)
            {
                await route.ContinueAsync();
                return;
            }
            var stored = await route.FetchAsync();
            lock (answers) answers.Add((stored.Status, null));
            await route.AbortAsync("connectionreset");
        });
        bobPage.Page.Response += (_, response) =>
        {
            if (response.Request.Method == "POST" && response.Url.EndsWith($"/{conversation}/messages", StringComparison.Ordinal))
                lock (answers) answers.Add((response.Status, response.Headers.GetValueOrDefault("idempotent-replay")));
        };

        await bobPage.SendAsync("sent once");
        await Expect(bobPage.Page.Locator("#message-list > li.pending")).ToHaveCountAsync(0);
        Assert.Equal(["hello", "sent once"], await bobPage.BodiesAsync());
        lock (answers) Assert.Equal([(201, null), (200, "true")], answers);
        Assert.Equal(2, (await api.MessageIdsAsync(ada, conversation)).Count);
        Assert.Equal(1, tap.Dropped);
        await bobPage.CloseAsync();
    }

    [Fact]
    public async Task On_resync_required_the_client_catches_up_over_rest_with_what_its_socket_never_delivered()
    {
        var (api, ada, bob, conversation, bobPage) = await BobSignedInAsync("before the gap");
        using var _ = api;
        var tap = await SocketTap.RouteAsync(bobPage);
        await bobPage.OpenAsync(conversation);
        await Expect(bobPage.MessageWithBody("before the gap")).ToHaveCountAsync(1);

        tap.Dropping = true;
        string[] lost = ["lost 1", "lost 2", "lost 3"];
        foreach (var body in lost) await api.SendMessageAsync(ada, conversation, body);
        await Eventually.True(() => Task.FromResult(tap.Dropped == lost.Length), "the three events reached the socket and were lost", BrowserFixture.Wait);
        tap.Dropping = false;
        Assert.Equal(["before the gap"], await bobPage.BodiesAsync());

        tap.Inject("""{"type":"resync.required"}""");
        await Expect(bobPage.MessageWithBody("lost 3")).ToHaveCountAsync(1);
        await api.SendMessageAsync(ada, conversation, "live again");
        await Expect(bobPage.MessageWithBody("live again")).ToHaveCountAsync(1);
        Assert.Equal(["before the gap", .. lost, "live again"], await bobPage.BodiesAsync());
        await bobPage.CloseAsync();
    }

    /// <summary>
    /// The main screens, wide and narrow. The narrow layout shows one pane at a time (the list, or the open
    /// conversation with a Back button). With <c>PARLEY_SCREENSHOTS=DIR</c> the pictures are written there
    /// (the README's are made with <c>PARLEY_SCREENSHOTS=$PWD/docs</c>), else to a temporary folder.
    /// </summary>
    [Fact]
    public async Task The_main_screens_render_wide_and_narrow_and_are_saved_as_screenshots()
    {
        var keep = Environment.GetEnvironmentVariable("PARLEY_SCREENSHOTS") is { Length: > 0 };
        var folder = keep ? Environment.GetEnvironmentVariable("PARLEY_SCREENSHOTS")! : Directory.CreateTempSubdirectory("parley-shots").FullName;
        Directory.CreateDirectory(folder);
        var shots = new List<string>();
        async Task Shot(IPage page, string name)
        {
            var path = Path.Combine(folder, $"webclient-{name}.png");
            await page.ScreenshotAsync(new() { Path = path });
            shots.Add(path);
        }
        var (api, ada, bob) = await TwoUsersAsync();
        using var _ = api;
        var conversation = await api.CreateConversationAsync(ada, bob);
        await api.SendAsync(ada, HttpMethod.Patch, $"/v1/conversations/{conversation}", new { title = "Release planning" },
            r => r.Headers.TryAddWithoutValidation("If-Match", "\"1\""));
        string[] lines = ["Morning! Is the release still on for Thursday?", "Yes. The migration is merged; the canary starts tomorrow.",
            "Great. I will watch the dashboards.", "Ping me if the replica lag climbs."];
        for (var i = 0; i < lines.Length; i++) await api.SendMessageAsync(i % 2 == 0 ? bob : ada, conversation, lines[i]);
        var other = await api.CreateConversationAsync(bob, ada);
        await api.SendAsync(bob, HttpMethod.Patch, $"/v1/conversations/{other}", new { title = "Lunch" },
            r => r.Headers.TryAddWithoutValidation("If-Match", "\"1\""));
        await api.SendMessageAsync(bob, other, "Noodles at one?");
        await api.SendMessageAsync(bob, other, "Or pizza.");

        var signIn = await browser.NewPageAsync(fixture.BaseAddress);
        await signIn.GotoAsync("/");
        await Expect(signIn.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await Shot(signIn, "sign-in");
        await signIn.Context.CloseAsync();

        var adaPage = await ChatPage.SignInAsync(browser, fixture.BaseAddress, ada.Handle);
        await Expect(adaPage.Badge(other)).ToHaveTextAsync("2");
        await adaPage.OpenAsync(conversation);
        await Expect(adaPage.Messages).ToHaveCountAsync(lines.Length);
        await adaPage.Composer.FillAsync("Will do");
        await Shot(adaPage.Page, "chat");
        await adaPage.Page.GetByRole(AriaRole.Button, new() { Name = "Participants" }).ClickAsync();
        await Expect(adaPage.Page.GetByRole(AriaRole.Dialog)).ToBeVisibleAsync();
        await Shot(adaPage.Page, "participants");
        await adaPage.Page.Keyboard.PressAsync("Escape"); // a dialog closes from the keyboard
        await Expect(adaPage.Page.GetByRole(AriaRole.Dialog)).ToHaveCountAsync(0);
        await adaPage.CloseAsync();

        var narrow = await ChatPage.SignInAsync(browser, fixture.BaseAddress, bob.Handle, new ViewportSize { Width = 390, Height = 780 });
        await Expect(narrow.Conversation(conversation)).ToBeVisibleAsync();
        await Shot(narrow.Page, "narrow-list");
        await narrow.OpenAsync(conversation);
        await Expect(narrow.Page.Locator("#sidebar")).ToBeHiddenAsync();
        await Expect(narrow.Page.GetByRole(AriaRole.Button, new() { Name = "Back to conversations" })).ToBeVisibleAsync();
        await Shot(narrow.Page, "narrow-chat");
        await narrow.Page.GetByRole(AriaRole.Button, new() { Name = "Back to conversations" }).ClickAsync();
        await Expect(narrow.Page.Locator("#sidebar")).ToBeVisibleAsync();
        await narrow.CloseAsync();

        Assert.All(shots, path => Assert.True(new FileInfo(path).Length > 1000, $"{path} holds a picture"));
        if (!keep) Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public async Task The_client_is_served_at_the_root_and_the_api_routes_answer_as_before()
    {
        using var api = fixture.Client();
        var page = await api.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<title>Parley</title>", await page.Content.ReadAsStringAsync());
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        var script = await api.Http.GetAsync("/js/app.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);

        await ApiClient.AssertProblem(await api.Http.GetAsync("/v1/no-such-route"), HttpStatusCode.NotFound);
        await ApiClient.AssertProblem(await api.Http.GetAsync("/no-such-file.js"), HttpStatusCode.NotFound);
        await ApiClient.AssertProblem(await api.Http.GetAsync("/v1/conversations"), HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync("/metrics")).StatusCode);
    }

    /// <summary>A page's <c>/v1/ws</c> run through the test: while <see cref="Dropping"/>, the server's <c>message.created</c> frames are lost (counted); <see cref="Inject"/> speaks for the server.</summary>
    private sealed class SocketTap
    {
        private volatile bool _dropping;
        private int _dropped;
        private IWebSocketRoute? _route;

        public bool Dropping { get => _dropping; set => _dropping = value; }

        public int Dropped => Volatile.Read(ref _dropped);

        public void Inject(string frame) => _route!.Send(frame);

        /// <summary>Routes the page's sockets through a new tap and reloads it, so its socket is the tapped one.</summary>
        public static async Task<SocketTap> RouteAsync(ChatPage page)
        {
            var tap = new SocketTap();
            await page.Page.RouteWebSocketAsync(new Regex("/v1/ws"), ws =>
            {
                tap._route = ws;
                var server = ws.ConnectToServer();
                server.OnMessage(frame =>
                {
                    var text = frame.Text ?? ""; // the server sends text frames only
                    if (tap._dropping && text.Contains("\"message.created\"", StringComparison.Ordinal)) Interlocked.Increment(ref tap._dropped);
                    else ws.Send(text);
                });
            });
            await page.Page.ReloadAsync();
            await page.WaitLiveAsync();
            return tap;
        }
    }
}
