using System.Text.Json;
using Parley.Observer.Actions;
using Parley.Observer.Tests.Infrastructure;
using Parley.Observer.Tests.Rules;

namespace Parley.Observer.Tests.Pipeline;

/// <summary>What the durable queue does with failing, slow, lost and too-large actions, and with events read twice.</summary>
[Trait("Category", "Integration")]
[Collection(ObserverCollection.Name)]
public sealed class QueueBehaviourTests(ObserverFixture fx) : ObserverTest(fx, "jobs", "id serial PRIMARY KEY, note text")
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private string Rules(string actions) => $"""
        rules:
          - name: jobs
            source: table:public.{Table}
            on: [insert]
            actions:
        {actions}
        """;

    private const string IndexAction = """
              - name: {0}
                index: {{ name: jobs, text: "{{{{data.note}}}}" }}
                retry: {1}
                timeout: {2}
        """;

    private static string Action(string name, string retry = "[0s]", string timeout = "30s") => string.Format(System.Globalization.CultureInfo.InvariantCulture, IndexAction, name, retry, timeout);

    public override Task DisposeAsync()
    {
        _release.TrySetResult();
        return base.DisposeAsync();
    }

    private Task InsertAsync(string note) => Fx.ExecuteAsync($"INSERT INTO {Table} (note) VALUES ($1)", note);

    private async Task<QueueRow> RowAsync(string action, Func<QueueRow, bool> until, string what)
    {
        QueueRow? row = null;
        await Wait.For(async () => (row = (await Fx.QueueAsync(Name)).SingleOrDefault(r => r.Action == action)) is { } r && until(r), what);
        return row!;
    }

    [Fact]
    public async Task A_failing_action_is_retried_on_its_schedule_and_after_the_last_attempt_dead_lettered_with_its_error()
    {
        Runner.Behaviour = (_, _) => Task.FromResult(new ActionResult(ActionOutcome.Failed, 500, "receiver answered 500"));
        await using var node = await Fx.StartAsync(Name, Rules(Action("flaky", "[0s, 0s, 0s]")), Runner);

        await InsertAsync("a");
        var row = await RowAsync("flaky", r => r.Status == "dead", "the action to be dead-lettered");

        Assert.Equal((3, "exhausted", "receiver answered 500"), (row.Attempts, row.DeadReason, row.LastError));
        Assert.Equal(3, Runner.CallsOf($"{row.EventId}.jobs.flaky"));
        Assert.Equal([(1, "failed"), (2, "failed"), (3, "failed")], (await Fx.AttemptsAsync(Name, row.EventId, "jobs", "flaky")).Select(a => (a.Attempt, a.Outcome)));
        Assert.Equal([1, 2, 3], Runner.Calls.Select(c => c.Attempt));
    }

    [Fact]
    public async Task Failing_fast_while_a_breaker_is_open_does_not_use_up_an_attempt()
    {
        var calls = 0;
        Runner.Behaviour = (_, _) => Task.FromResult(Interlocked.Increment(ref calls) <= 2
            ? new ActionResult(ActionOutcome.FailedFast, Error: "breaker open")
            : ActionResult.Success(200));
        await using var node = await Fx.StartAsync(Name, Rules(Action("guarded", "[0s]")), Runner);

        await InsertAsync("b");
        var row = await RowAsync("guarded", r => r.Status is "succeeded" or "dead", "the action to finish");

        Assert.Equal(("succeeded", 1), (row.Status, row.Attempts));
        Assert.Equal(["failed_fast", "failed_fast", "succeeded"], (await Fx.AttemptsAsync(Name, row.EventId, "jobs", "guarded")).Select(a => a.Outcome));
    }

    [Fact]
    public async Task An_action_that_does_not_finish_within_its_timeout_fails_that_attempt_even_when_the_runner_ignores_cancellation()
    {
        Runner.Behaviour = async (_, _) =>
        {
            await _release.Task;
            return ActionResult.Success();
        };
        await using var node = await Fx.StartAsync(Name, Rules(Action("stuck", "[0s]", "300ms")), Runner);

        await InsertAsync("c");
        var row = await RowAsync("stuck", r => r.Status == "dead", "the stuck action to time out");

        Assert.Equal("timed out after 0.3 s", row.LastError);
        Assert.Equal("timeout", Assert.Single(await Fx.AttemptsAsync(Name, row.EventId, "jobs", "stuck")).Outcome);
    }

    [Fact]
    public async Task A_slow_action_does_not_delay_the_other_action_of_the_same_event()
    {
        Runner.Behaviour = async (work, ct) =>
        {
            if (work.Action == "slow") await _release.Task.WaitAsync(ct);
            return ActionResult.Success();
        };
        await using var node = await Fx.StartAsync(Name, Rules(Action("slow", "[0s]", "1m") + "\n" + Action("fast")), Runner);

        await InsertAsync("d");
        await RowAsync("fast", r => r.Status == "succeeded", "the fast action to be done");
        await Wait.For(() => Runner.CallsOfAction("slow").Count == 1, "the slow action to be started");

        Assert.Equal("running", (await Fx.QueueAsync(Name)).Single(r => r.Action == "slow").Status);
        Assert.Equal(1, Runner.Running);
        _release.SetResult();
        await RowAsync("slow", r => r.Status == "succeeded", "the slow action to be done once released");
    }

    [Fact]
    public async Task An_action_claimed_by_a_process_that_died_is_taken_again_once_its_claim_lapses_and_done_once()
    {
        await using var node = await Fx.StartAsync(Name, Rules(Action("idx", "[0s, 0s]")), Runner);
        var eventId = "00000000deadbeef-0";
        var json = JsonSerializer.Serialize(new { id = eventId, source = $"table:public.{Table}", type = "insert", occurredAt = DateTimeOffset.UtcNow, data = new { note = "orphan" } });
        // What a worker that was SIGKILLed mid-attempt leaves behind: running, claimed, its claim lapsed.
        await Fx.ExecuteAsync("""
            INSERT INTO observer_actions (observer, event_id, rule, action, kind, event, spec, retry_ms, timeout_ms, status, attempts, due_at, claimed_by, claim_token, term)
            VALUES ($1, $2, 'jobs', 'idx', 'index', $3::json, '{"kind":"index","name":"jobs","text":"orphan"}', '{0,0}', 1000, 'running', 1,
                    clock_timestamp() - interval '1 second', 'crashed-process', gen_random_uuid(), 1)
            """, Name, eventId, json);

        var row = await RowAsync("idx", r => r.Status == "succeeded", "the orphaned action to be done");

        Assert.Equal(1, Runner.CallsOf($"{eventId}.jobs.idx"));
        Assert.Equal(new IndexSpec("jobs", "orphan"), Assert.Single(Runner.Calls).Spec);
        Assert.Equal([(1, "lost"), (2, "succeeded")], (await Fx.AttemptsAsync(Name, eventId, "jobs", "idx")).Select(a => (a.Attempt, a.Outcome)));
        Assert.Equal(2, row.Attempts);
    }

    [Fact]
    public async Task An_event_above_the_size_limit_has_its_actions_dead_lettered_too_large_and_the_stream_goes_on()
    {
        await using var node = await Fx.StartAsync(Name, Rules(Action("idx")), Runner,
            new Dictionary<string, string?> { ["Parley:Observer:MaxEventBytes"] = "2048" });

        await InsertAsync(new string('x', 100_000));
        await InsertAsync("small");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 2 } rows && rows.All(r => r.Status is "dead" or "succeeded"), "both events' actions to be settled");

        var rows = await Fx.QueueAsync(Name);
        Assert.Equal(("dead", "too_large"), (rows[0].Status, rows[0].DeadReason));
        Assert.Equal("succeeded", rows[1].Status);
        Assert.Equal("small", Assert.Single(Runner.Calls).Event.Data["note"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_410_disables_the_endpoint_its_actions_wait_without_using_attempts_and_run_once_it_is_enabled()
    {
        const string url = "http://127.0.0.1:9/gone";
        var calls = 0;
        Runner.Behaviour = (_, _) => Task.FromResult(Interlocked.Increment(ref calls) == 1 ? new ActionResult(ActionOutcome.Gone, 410, "410 Gone") : ActionResult.Success(200));
        await using var node = await Fx.StartAsync(Name, Rules($$"""
                  - name: hook
                    webhook: { url: "{{url}}", secret: "{{RulesFileTests.Secret}}" }
                    retry: [0s]
            """), Runner);

        await InsertAsync("g1");
        await Wait.For(async () => await Fx.ScalarAsync<long>("SELECT count(*) FROM observer_endpoints WHERE observer = $1 AND url = $2", Name, url) == 1, "the endpoint to be disabled");
        await InsertAsync("g2");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 2 } rows && rows.All(r => r.Status == "pending"), "both actions to wait");
        Assert.Equal(1, calls);

        // What `parley observer endpoints enable <url>` does.
        await Fx.ExecuteAsync("DELETE FROM observer_endpoints WHERE observer = $1 AND url = $2", Name, url);
        await Wait.For(async () => (await Fx.QueueAsync(Name)).All(r => r.Status == "succeeded"), "both actions done once enabled");

        Assert.Equal(3, calls);
        Assert.All(await Fx.QueueAsync(Name), r => Assert.Equal(1, r.Attempts));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Events_read_again_after_a_restart_are_recognised_by_id_and_not_done_again_with_or_without_redis(bool redisDown)
    {
        var rules = Rules(Action("idx"));
        await (await Fx.StartAsync(Name, rules, Runner)).DisposeAsync();
        // A copy of the slot from before the events: reading it again replays them.
        await Fx.ExecuteAsync("SELECT pg_copy_logical_replication_slot($1, $1 || '_copy')", Name);
        await using (var first = await Fx.StartAsync(Name, rules, Runner))
        {
            foreach (var note in new[] { "e1", "e2", "e3" }) await InsertAsync(note);
            await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 3 } rows && rows.All(r => r.Status == "succeeded"), "the three actions done");
        }
        await Fx.ExecuteAsync("SELECT pg_drop_replication_slot($1)", Name);
        await Fx.ExecuteAsync("SELECT pg_copy_logical_replication_slot($1 || '_copy', $1)", Name);
        await Fx.ExecuteAsync("SELECT pg_drop_replication_slot($1 || '_copy')", Name);

        var overrides = redisDown ? new Dictionary<string, string?> { ["Parley:Redis:Endpoint"] = "127.0.0.1:1" } : null;
        await using var second = await Fx.StartAsync(Name, rules, Runner, overrides);
        await Wait.For(async () => (await second.Http.GetStringAsync("/metrics")).Contains($"observer_events_total{{source=\"table:public.{Table}\",type=\"insert\"}} 3", StringComparison.Ordinal),
            "the three events to be read again");
        await InsertAsync("e4");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 4 } rows && rows.All(r => r.Status == "succeeded"), "the new event's action done");

        Assert.Equal(4, Runner.Calls.Count);
        Assert.Equal(["e1", "e2", "e3", "e4"], Runner.Calls.Select(c => c.Event.Data["note"]!.GetValue<string>()).Order());
    }
}
