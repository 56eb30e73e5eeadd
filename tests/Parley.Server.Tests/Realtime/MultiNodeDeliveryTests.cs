using System.Net;
using Npgsql;
using Parley.Data.Outbox;
using Parley.Kit.Chaos.Nodes;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Realtime;

/// <summary>
/// Real server processes on one stack: cross-node delivery, a Redis outage, a node killed with SIGKILL.
/// Traits are per test: the 10,000-message kill is Chaos tier only.
/// </summary>
public sealed class MultiNodeDeliveryTests(MultiNodeFixture fixture) : IClassFixture<MultiNodeFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    [Trait("Category", "Integration")]
    public async Task A_message_sent_through_node_A_reaches_a_socket_on_node_B()
    {
        await using var a = await fixture.StartNodeAsync("mn-a1");
        await using var b = await fixture.StartNodeAsync("mn-b1");
        using var apiA = MultiNodeFixture.Client(a);
        var owner = await apiA.NewUserAsync("mno");
        var member = await apiA.NewUserAsync("mnm");
        var conversation = await apiA.CreateConversationAsync(owner, member);
        await using var onB = await WsClient.ConnectAsync(b.BaseAddress, member.Token);
        await using var onA = await WsClient.ConnectAsync(a.BaseAddress, member.Token);

        var sent = Guid.Parse((await apiA.SendMessageAsync(owner, conversation, "across nodes"))["id"]!.GetValue<string>());

        await onB.WaitForMessagesAsync(1, Wait);
        await onA.WaitForMessagesAsync(1, Wait);
        Assert.Equal([sent], onB.MessageIds());
        Assert.Equal(onA.Events()[0]["eventId"]!.GetValue<string>(), onB.Events()[0]["eventId"]!.GetValue<string>());
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task An_outage_past_the_retry_limit_dead_letters_and_dlq_retry_delivers_every_message()
    {
        // A node that gives up after three quick attempts, so the outage outlasts its retry limit.
        await using var node = await fixture.StartNodeAsync("mn-dlq", new Dictionary<string, string?>
        {
            ["Parley:Delivery:MaxAttempts"] = "3",
            ["Parley:Delivery:RetryBaseDelay"] = "00:00:00.050",
        });
        using var api = MultiNodeFixture.Client(node);
        var owner = await api.NewUserAsync("dlo");
        var member = await api.NewUserAsync("dlm");
        var conversation = await api.CreateConversationAsync(owner, member);
        // Counts over this conversation's rows only: the class's other tests share the stack.
        await Eventually.True(async () => await fixture.CountAsync($"SELECT count(*) FROM outbox WHERE dispatched_at IS NULL AND conversation_id = '{conversation}'") == 0, "the setup events to be dispatched");
        var deadBefore = await fixture.CountAsync($"SELECT count(*) FROM dead_letters WHERE conversation_id = '{conversation}'");

        var sent = new List<Guid>();
        await fixture.Stack.Redis!.StopAsync();
        try
        {
            for (var i = 0; i < 5; i++)
                sent.Add(Guid.Parse((await api.SendMessageAsync(owner, conversation, $"during outage {i}"))["id"]!.GetValue<string>()));
            await Eventually.True(async () => await fixture.CountAsync($"SELECT count(*) FROM dead_letters WHERE type = 'message.created' AND conversation_id = '{conversation}'") - deadBefore >= 5,
                "the five events to reach the dead-letter table", TimeSpan.FromSeconds(60));
        }
        finally
        {
            await fixture.Stack.Redis!.StartAsync();
        }

        // As an operator would: retry once the node sees Redis again, or its three quick attempts dead-letter them anew.
        await Eventually.True(async () => (await ApiClient.Json(await api.Http.GetAsync("/health/ready")))["checks"]?["redis"]?["status"]?.GetValue<string>() == "Healthy",
            "the node to reach Redis again", TimeSpan.FromSeconds(60));
        await using var socket = await WsClient.ConnectAsync(node.BaseAddress, member.Token);
        await using (var source = NpgsqlDataSource.Create(fixture.Stack.PrimaryConnectionString))
        {
            // What `parley dlq retry --all` runs.
            var retried = await new DeadLetterStore(source).RetryAsync(null);
            Assert.True(retried >= 5, $"retried {retried}");
        }
        try
        {
            await socket.WaitUntilAsync(() => sent.All(new HashSet<Guid>(socket.MessageIds()).Contains), Wait,
                $"the {sent.Count} dead-lettered messages after the retry (missing: {sent.Except(socket.MessageIds()).Count()})");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            Assert.Fail($"{e.Message}\n{await DiagnoseAsync(node)}");
        }
        Assert.Equal(0, await fixture.CountAsync($"SELECT count(*) FROM dead_letters WHERE conversation_id = '{conversation}'"));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task A_redis_restart_tells_live_sockets_to_resync_and_delivery_goes_on()
    {
        await using var node = await fixture.StartNodeAsync("mn-resync");
        using var api = MultiNodeFixture.Client(node);
        var owner = await api.NewUserAsync("rso");
        var member = await api.NewUserAsync("rsm");
        var conversation = await api.CreateConversationAsync(owner, member);
        await using var socket = await WsClient.ConnectAsync(node.BaseAddress, member.Token);
        await api.SendMessageAsync(owner, conversation, "before");
        await socket.WaitForMessagesAsync(1, Wait);

        // The stream and the node's consumer group are gone with the restart: what the node had not delivered is lost.
        await fixture.Stack.Redis!.StopAsync();
        await fixture.Stack.Redis!.StartAsync();
        await socket.WaitUntilAsync(() => socket.Received.Any(f => WsClient.Type(f) == "resync.required"), Wait, "resync.required after the restart");

        var after = Guid.Parse((await api.SendMessageAsync(owner, conversation, "after"))["id"]!.GetValue<string>());
        await socket.WaitUntilAsync(() => socket.MessageIds().Contains(after), Wait, "live delivery after the resync");
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task A_node_stops_by_itself_when_its_supervising_process_dies()
    {
        using var supervisor = System.Diagnostics.Process.Start("sleep", "1000");
        await using var node = await fixture.StartNodeAsync("mn-orphan", new Dictionary<string, string?>
        {
            ["Parley:Node:ExitWithProcess"] = supervisor.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        Assert.True(node.IsRunning);
        supervisor.Kill();
        await Eventually.True(() => Task.FromResult(!node.IsRunning), "the node to exit after its supervisor", TimeSpan.FromSeconds(30));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task Redis_stopped_for_10_seconds_during_sends_loses_no_message()
    {
        await using var a = await fixture.StartNodeAsync("mn-a2");
        await using var b = await fixture.StartNodeAsync("mn-b2");
        using var apiA = MultiNodeFixture.Client(a);
        using var apiB = MultiNodeFixture.Client(b);
        var owner = await apiA.NewUserAsync("rdo");
        var member = await apiA.NewUserAsync("rdm");
        var conversation = await apiA.CreateConversationAsync(owner, member);
        await using var socket = await WsClient.ConnectAsync(b.BaseAddress, member.Token);

        var sender = new SteadySender([apiA, apiB], owner, conversation);
        var outage = Task.CompletedTask;
        try
        {
            await sender.RunAsync(count: 400, perSecond: 20, onProgress: n =>
            {
                if (n == 60) outage = Task.Run(async () =>
                {
                    await fixture.Stack.Redis!.StopAsync();
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds(10)); // the outage itself, not a wait for an event
                    }
                    finally
                    {
                        await fixture.Stack.Redis!.StartAsync();
                    }
                });
                return Task.CompletedTask;
            });
        }
        finally
        {
            await outage;
        }

        // Sends do not depend on Redis: every one is accepted (503 or 429 + Retry-After retried with its clientMessageId, as a client does).
        var created = sender.Created;
        Assert.True(created.Count == 400, $"{created.Count} of 400 sends got 201 ({sender.Failures} failed, {sender.Retries} retries)");
        try
        {
            // Every accepted message arrives live, unless Redis lost events with its restart: then the socket is told to
            // resync (never a silent gap): what it missed was sent before the last resync frame, and the catch-up over
            // REST (history after the last live message before that frame) returns every one of them.
            await socket.WaitUntilAsync(() => created.All(new HashSet<Guid>(socket.MessageIds()).Contains) || (socket.LastResyncIndex() >= 0 && socket.MessageIds().Contains(created[^1])), Wait,
                $"all {created.Count} messages that got 201, or a resync (missing: {created.Except(socket.MessageIds()).Count()})");
            var missed = created.Except(socket.MessageIds()).ToList();
            if (missed.Count > 0)
            {
                var resync = socket.LastResyncIndex();
                var toldAt = socket.ReceivedAt[resync];
                Assert.All(missed, id => Assert.True(sender.StartedAt(id) < toldAt, $"{id} was sent after the last resync.required and never delivered: a silent gap"));
                var caughtUp = await apiB.MessageIdsAsync(member, conversation, after: socket.LastMessageIdBefore(resync));
                Assert.All(missed, id => Assert.Contains(id, caughtUp));
            }
        }
        catch (Xunit.Sdk.XunitException e)
        {
            var missing = created.Except(socket.MessageIds()).ToHashSet();
            // Missing may be empty by now: every message arrived, but after the wait ran out.
            var which = missing.Count == 0 ? "none missing now (all arrived after the wait)" : $"first missing: {missing.Min()} last missing {missing.Max()}";
            Assert.Fail($"{e.Message}\n{which}\n{await DiagnoseAsync(a, b)}");
        }
        Assert.Equal(0, await fixture.CountAsync($"SELECT count(*) FROM dead_letters WHERE conversation_id = '{conversation}'"));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public Task Kill_9_of_a_node_during_steady_sends_loses_no_message_500() => KillNodeDuringSendsAsync(500, 100, "k5");

    [Fact]
    [Trait("Category", "Chaos")]
    [Trait("Kind", "recovery")]
    public Task Kill_9_of_a_node_during_steady_sends_loses_no_message_10000() => KillNodeDuringSendsAsync(10_000, 200, "k10k");

    private async Task KillNodeDuringSendsAsync(int count, int perSecond, string tag)
    {
        await using var a = await fixture.StartNodeAsync($"mn-a-{tag}");
        var b = await fixture.StartNodeAsync($"mn-b-{tag}");
        using var apiA = MultiNodeFixture.Client(a);
        var owner = await apiA.NewUserAsync("kno");
        var members = new List<ApiUser>();
        for (var i = 0; i < 3; i++) members.Add(await apiA.NewUserAsync("knm"));
        var conversation = await apiA.CreateConversationAsync(owner, [.. members]);

        // Each member's client: connected to B, reconnecting with since after B dies.
        var seen = members.Select(_ => new HashSet<Guid>()).ToArray();
        var sockets = new WsClient[members.Count];
        for (var i = 0; i < members.Count; i++) sockets[i] = await WsClient.ConnectAsync(b.BaseAddress, members[i].Token);

        var sender = new SteadySender([apiA], owner, conversation);
        var chaos = Task.CompletedTask;
        await sender.RunAsync(count, perSecond, n =>
        {
            if (n == count / 3) chaos = Task.Run(async () =>
            {
                await b.KillAsync();
                await b.DisposeAsync();
                await Task.Delay(TimeSpan.FromSeconds(1));
                b = await fixture.StartNodeAsync($"mn-b-{tag}");
                for (var i = 0; i < members.Count; i++)
                {
                    var old = sockets[i];
                    var since = old.Events().LastOrDefault()?["eventId"]?.GetValue<string>();
                    lock (seen[i]) seen[i].UnionWith(old.MessageIds());
                    await old.DisposeAsync();
                    sockets[i] = await WsClient.ReconnectAsync(b.BaseAddress, members[i].Token, since);
                }
            });
            return Task.CompletedTask;
        });
        await chaos;
        try
        {
            var created = sender.Created;
            // The surviving node accepts every send (503 or 429 + Retry-After retried with its clientMessageId, as a client does).
            Assert.True(created.Count == count, $"{created.Count} of {count} sends got 201 through the surviving node ({sender.Failures} failed, {sender.Retries} retries).");
            for (var i = 0; i < members.Count; i++)
            {
                var socket = sockets[i];
                var before = seen[i];
                await socket.WaitUntilAsync(() =>
                    {
                        var got = new HashSet<Guid>(socket.MessageIds());
                        return created.All(id => before.Contains(id) || got.Contains(id));
                    }, TimeSpan.FromSeconds(120),
                    $"member {i}: every one of {created.Count} messages that got 201");
                Assert.DoesNotContain(socket.Received, f => WsClient.Type(f) == "resync.required");
            }
        }
        finally
        {
            foreach (var socket in sockets) await socket.DisposeAsync();
            await b.DisposeAsync();
        }
    }

    /// <summary>For a delivery that did not arrive: the stream and its groups, the outbox, and each node's log.</summary>
    private async Task<string> DiagnoseAsync(params ParleyNode[] nodes)
    {
        async Task<string> RedisCli(string command)
        {
            using var cli = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("redis-cli", $"-p {fixture.Stack.Redis!.Port} {command}") { RedirectStandardOutput = true })!;
            return (await cli.StandardOutput.ReadToEndAsync()).Replace('\n', ' ');
        }
        var text = new System.Text.StringBuilder()
            .AppendLine($"stream: {await RedisCli("xinfo stream parley:events")}")
            .AppendLine($"groups: {await RedisCli("xinfo groups parley:events")}")
            .AppendLine($"undispatched outbox rows: {await fixture.CountAsync("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL")}");
        foreach (var node in nodes) text.AppendLine($"--- node {node.BaseAddress} ---").AppendLine(node.Log());
        return text.ToString();
    }
}
