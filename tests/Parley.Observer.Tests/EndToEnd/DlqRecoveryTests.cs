using System.Text.Json;
using Parley.Cli;
using Parley.Observer.Tests.Actions;
using Parley.Observer.Tests.Infrastructure;
using Parley.Observer.Tests.Rules;

namespace Parley.Observer.Tests.EndToEnd;

/// <summary>
/// Seed 003's E2E 2 through the CLI: a broken webhook receiver sends the action to the DLQ; once the receiver is fixed,
/// <c>parley observer dlq retry</c> delivers it with the same <c>webhook-id</c> and the DLQ is empty; <c>status</c> and
/// <c>debug-event</c> tell the story on the way.
/// </summary>
[Collection(ObserverCollection.Name)]
[Trait("Category", "Integration")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DlqRecoveryTests(ObserverFixture fx) : ReceiverEndToEnd(fx, "d", "note text")
{
    private string Rules => $$$"""
        rules:
          - name: orders
            source: table:public.{{{Table}}}
            on: [insert]
            actions:
              - name: hook
                webhook: { url: "{{{Receiver.Url("/hook")}}}", secret: "{{{RulesFileTests.Secret}}}", timeout: 5s }
                retry: [0s, 0s]
        """;

    [Fact]
    public async Task A_dead_lettered_webhook_retried_from_the_cli_after_theReceiver_is_fixed_arrives_with_the_same_webhook_id_and_leaves_the_dlq()
    {
        Receiver.Respond = Receiver.Status(500);
        await using var node = await Fx.StartAsync(Name, Rules, runner: null);
        await Fx.ExecuteAsync($"INSERT INTO {Table} (note) VALUES ('broken')");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is [{ Status: "dead" }], "the action to be dead-lettered");

        var listed = (await Cli.OkAsync("dlq", "list", "--json")).Json();
        Assert.Equal(1, listed.GetProperty("total").GetInt32());
        var dead = Assert.Single(listed.GetProperty("items").EnumerateArray());
        var id = dead.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var webhookId = dead.GetProperty("webhookId").GetString()!;
        Assert.Equal(("exhausted", 2, 500), (dead.GetProperty("deadReason").GetString(), dead.GetProperty("attempts").GetInt32(), dead.GetProperty("lastStatus").GetInt32()));
        var shown = await Cli.OkAsync("dlq", "show", id);
        Assert.Contains(webhookId, shown.Out);
        Assert.DoesNotContain(RulesFileTests.Secret, shown.Out);
        var status = (await Cli.OkAsync("status", "--json")).Json();
        Assert.Equal(1, status.GetProperty("dlqDepth").GetInt32());
        var live = Assert.Single(status.GetProperty("instances").EnumerateArray()).GetProperty("live");
        Assert.Equal(("leader", Environment.ProcessId), (live.GetProperty("role").GetString(), live.GetProperty("pid").GetInt32()));
        Assert.Contains(live.GetProperty("breakers").EnumerateArray(), b => b.GetProperty("endpoint").GetString()!.EndsWith("/hook", StringComparison.Ordinal));

        Receiver.Respond = Receiver.Status(204);
        var retried = (await Cli.OkAsync("dlq", "retry", id, "--json")).Json();
        Assert.Equal(1, retried.GetProperty("count").GetInt32());
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is [{ Status: "succeeded" }], "the retried action to succeed");

        Assert.Equal(0, (await Cli.OkAsync("dlq", "list", "--json")).Json().GetProperty("total").GetInt32());
        Assert.Equal(3, Receiver.Count);
        Assert.All(Receiver.All, r => Assert.Equal(webhookId, r.Headers["webhook-id"].ToString()));
        var trace = (await Cli.OkAsync("debug-event", webhookId.Split('.')[0], "--json")).Json();
        Assert.Equal(["orders"], trace.GetProperty("rules").EnumerateArray().Select(r => r.GetString()));
        var attempts = Assert.Single(trace.GetProperty("actions").EnumerateArray()).GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal([(1, "failed", 500), (2, "failed", 500), (3, "succeeded", 204)],
            attempts.Select(a => (a.GetProperty("attempt").GetInt32(), a.GetProperty("outcome").GetString(), a.GetProperty("status").GetInt32())));
        Assert.All(attempts, a => Assert.True(a.GetProperty("durationMs").GetDouble() >= 0));
    }

    [Fact]
    public async Task The_cli_refuses_ids_that_are_not_dead_letters_and_an_unknown_event_with_exit_1_and_a_retry_without_ids_with_exit_2()
    {
        Assert.Equal(ExitCodes.Failure, (await Cli.RunAsync("dlq", "retry", "987654321")).ExitCode);
        Assert.Equal(ExitCodes.Failure, (await Cli.RunAsync("dlq", "show", "987654321")).ExitCode);
        Assert.Equal(ExitCodes.Failure, (await Cli.RunAsync("debug-event", "0000000000000000-0")).ExitCode);
        Assert.Equal(ExitCodes.Failure, (await Cli.RunAsync("endpoints", "enable", "http://127.0.0.1:9/never-disabled")).ExitCode);
        var usage = await Cli.RunAsync("dlq", "retry");
        Assert.Equal(ExitCodes.Usage, usage.ExitCode);
        Assert.Contains("--all", usage.Err);
        // No process of the group runs: nothing answers.
        Assert.Equal(ExitCodes.Failure, (await Cli.RunAsync("status", "--json")).ExitCode);
        _ = JsonDocument.Parse((await Cli.RunAsync("status", "--json")).Out);
    }
}
