using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Parley.Kit.Stack.Internal;
using Xunit.Abstractions;

namespace Parley.Cli.Tests;

/// <summary>
/// <c>parley up</c> keeps its data: across <c>down</c>/<c>up</c>, across a SIGKILL of every process, and through
/// <c>backup</c> → <c>reset</c> → <c>restore</c>. Each test owns a root (and its data) and wipes it at the end.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DurabilityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Down_then_up_keeps_users_conversations_messages_and_unread_state()
    {
        await using var parley = new LocalParley();
        string conversation;
        IReadOnlyList<string> history;
        using (var api = new ChatApi(await parley.UpAsync()))
        {
            (_, var alice) = await api.RegisterAsync("alice");
            (var bobId, var bob) = await api.RegisterAsync("bob");
            conversation = await api.CreateConversationAsync(alice, bobId);
            var first = await api.PostMessageAsync(alice, conversation, "one");
            Assert.NotNull(first);
            Assert.NotNull(await api.PostMessageAsync(alice, conversation, "two"));
            Assert.NotNull(await api.PostMessageAsync(alice, conversation, "three"));
            await api.MarkReadAsync(bob, conversation, first);
            history = await api.MessageIdsAsync(alice, conversation);
            Assert.Equal(2, Assert.Single(await api.ConversationsAsync(bob)).GetProperty("unreadCount").GetInt32());
        }

        await parley.DownAsync();
        using (var api = new ChatApi(await parley.UpAsync()))
        {
            var alice = await api.LoginAsync("alice");
            var bob = await api.LoginAsync("bob");
            Assert.Equal(history, await api.MessageIdsAsync(bob, conversation));
            var summary = Assert.Single(await api.ConversationsAsync(bob));
            Assert.Equal(conversation, summary.GetProperty("id").GetString());
            Assert.Equal(2, summary.GetProperty("unreadCount").GetInt32());
            Assert.Equal(history[0], summary.GetProperty("lastMessage").GetProperty("id").GetString());
            Assert.Equal(0, Assert.Single(await api.ConversationsAsync(alice)).GetProperty("unreadCount").GetInt32());
        }
    }

    [Fact]
    public async Task SIGKILL_of_every_process_then_up_keeps_every_message_that_got_a_201()
    {
        const int Messages = 300;
        const int KillAfter = 150;
        await using var parley = new LocalParley();
        var acknowledged = new ConcurrentBag<string>();
        string conversation;
        using (var api = new ChatApi(await parley.UpAsync()))
        {
            (_, var alice) = await api.RegisterAsync("alice");
            (var bobId, _) = await api.RegisterAsync("bob");
            conversation = await api.CreateConversationAsync(alice, bobId);
            var pids = await parley.PidsAsync();
            Assert.Equal(["primary", "replica", "pgbouncer", "redis", "balancer", "watchdog", "server", "node-1"], pids.Keys);

            var enoughAcknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var gate = new SemaphoreSlim(16);
            var sends = Enumerable.Range(0, Messages).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    if (await api.PostMessageAsync(alice, conversation, $"message {i.ToString(CultureInfo.InvariantCulture)}") is { } id)
                        acknowledged.Add(id);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // In flight when everything was killed: no 201, so no promise to keep.
                }
                finally
                {
                    gate.Release();
                    if (acknowledged.Count >= KillAfter)
                        enoughAcknowledged.TrySetResult();
                }
            }).ToList();
            await enoughAcknowledged.Task.WaitAsync(TimeSpan.FromSeconds(120));

            // KillTreeAsync signals at once and returns the wait, so all go within moments, each with its children (PostgreSQL
            // backends, checkpointer, WAL writer). The watchdog first: it would stop the stack cleanly once the server is gone,
            // which is no crash; then the server, while sends are still in flight.
            var killed = pids.OrderBy(p => p.Key switch { "watchdog" => 0, "server" => 1, _ => 2 })
                .Select(p => ProcessTree.KillTreeAsync(p.Value, TimeSpan.FromSeconds(10), CancellationToken.None))
                .ToList();
            Assert.All(await Task.WhenAll(killed), Assert.True);
            await Task.WhenAll(sends);
        }
        // Fewer than all: the kill came while sends were still going.
        Assert.InRange(acknowledged.Count, KillAfter, Messages - 1);

        using (var api = new ChatApi(await parley.UpAsync()))
        {
            var stored = (await api.MessageIdsAsync(await api.LoginAsync("bob"), conversation)).ToHashSet();
            var lost = acknowledged.Where(id => !stored.Contains(id)).ToList();
            output.WriteLine($"{acknowledged.Count} of {Messages} sends got a 201 before the SIGKILL; {stored.Count} messages stored after up; {lost.Count} lost");
            Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged messages were lost, e.g. {lost.FirstOrDefault()}");
        }
    }

    [Fact]
    public async Task Reset_wipes_the_data_and_a_backup_restores_it()
    {
        await using var parley = new LocalParley();
        var backup = Path.Combine(parley.Root, "parley.dump");
        string conversation;
        IReadOnlyList<string> history;
        using (var api = new ChatApi(await parley.UpAsync()))
        {
            (_, var alice) = await api.RegisterAsync("alice");
            (var bobId, _) = await api.RegisterAsync("bob");
            conversation = await api.CreateConversationAsync(alice, bobId);
            Assert.NotNull(await api.PostMessageAsync(alice, conversation, "kept in the backup"));
            history = await api.MessageIdsAsync(alice, conversation);

            var saved = await parley.RunAsync("backup", backup);
            Assert.True(saved.ExitCode == ExitCodes.Ok, saved.ToString());
            Assert.Contains("Saved ", saved.Out);
            Assert.True(new FileInfo(backup).Length > 0);

            var running = await parley.RunAsync("reset", "--yes");
            Assert.True(running.ExitCode == ExitCodes.AlreadyRunning, running.ToString());
            Assert.Contains("parley down", running.Err);
        }
        await parley.DownAsync();

        var noStack = await parley.RunAsync("backup", backup + ".2");
        Assert.True(noStack.ExitCode == ExitCodes.Failure, noStack.ToString());
        Assert.Contains("no local stack runs", noStack.Err);
        var unconfirmed = await parley.RunAsync("reset");
        Assert.True(unconfirmed.ExitCode == ExitCodes.Usage, unconfirmed.ToString());
        var reset = await parley.RunAsync("reset", "--yes");
        Assert.True(reset.ExitCode == ExitCodes.Ok, reset.ToString());
        Assert.Contains("Deleted the local data", reset.Out);

        using (var api = new ChatApi(await parley.UpAsync()))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await api.LoginStatusAsync("alice"));

            var restored = await parley.RunAsync("restore", backup);
            Assert.True(restored.ExitCode == ExitCodes.Ok, restored.ToString());
            Assert.Contains("Restored ", restored.Out);
            Assert.Contains("cached pages cleared", restored.Out);

            Assert.Equal(history, await api.MessageIdsAsync(await api.LoginAsync("bob"), conversation));
            Assert.Equal(history, await api.MessageIdsAsync(await api.LoginAsync("alice"), conversation));
        }
    }
}

/// <summary>reset, backup and restore refuse bad requests before touching anything (no stack needed).</summary>
[Trait("Category", "Smoke")]
public sealed class ArchiveUsageTests
{
    [Fact]
    public async Task Reset_without_yes_is_a_usage_error_that_says_what_it_would_delete()
    {
        var root = Directory.CreateTempSubdirectory("parley-reset-").FullName;
        try
        {
            var reset = await CliRun.InProcessAsync("reset", "--root", root);
            Assert.Equal(ExitCodes.Usage, reset.ExitCode);
            Assert.Contains("parley reset --yes", reset.Err);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Restore_of_a_missing_file_and_backup_without_a_running_stack_fail_clearly()
    {
        var root = Directory.CreateTempSubdirectory("parley-archive-").FullName;
        try
        {
            var restore = await CliRun.InProcessAsync("restore", Path.Combine(root, "missing.dump"), "--root", root);
            Assert.Equal(ExitCodes.Usage, restore.ExitCode);
            Assert.Contains("does not exist", restore.Err);
            var backup = await CliRun.InProcessAsync("backup", Path.Combine(root, "out.dump"), "--root", root);
            Assert.Equal(ExitCodes.Failure, backup.ExitCode);
            Assert.Contains("no local stack runs", backup.Err);
            Assert.False(File.Exists(Path.Combine(root, "out.dump")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
