using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MimeKit;
using Parley.Kit.Chaos.Proxy;
using Parley.Kit.Stack;
using Parley.Observer.Actions;

namespace Parley.Observer.Tests.Actions;

/// <summary>The stack's real SMTP server (aiosmtpd, writing a Maildir), one per test class.</summary>
public sealed class SmtpStackFixture : IAsyncLifetime
{
    public LocalStack Stack { get; private set; } = null!;

    public async Task InitializeAsync() => Stack = await LocalStack.StartAsync(new StackOptions
    {
        WithPrimary = false,
        WithReplica = false,
        WithPgBouncer = false,
        WithRedis = false,
        WithSmtp = true,
    });

    public SmtpOptions Options() => new() { Host = "127.0.0.1", Port = Stack.SmtpPort!.Value, From = "observer@parley.test", Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>The mail the server accepted for one action (each is one Maildir file), or none.</summary>
    public IReadOnlyList<MimeMessage> MailFor(string actionId) =>
        Directory.EnumerateFiles(Path.Combine(Stack.SmtpMaildir!, "new"))
            .Select(file => MimeMessage.Load(file))
            .Where(mail => mail.Headers[EmailRunner.ActionIdHeader] == actionId)
            .ToList();

    public async Task DisposeAsync() => await Stack.DisposeAsync();
}

[Trait("Category", "Integration")]
public sealed class EmailRunnerTests : IClassFixture<SmtpStackFixture>, IDisposable
{
    private readonly SmtpStackFixture _smtp;
    private readonly ManualTime _time = new();
    private readonly EndpointBreakers _breakers;
    private readonly EmailRunner _runner;

    public EmailRunnerTests(SmtpStackFixture smtp)
    {
        _smtp = smtp;
        _breakers = new EndpointBreakers(Options.Create(new BreakerOptions { MinimumThroughput = 2, FailureRatio = 0.5, BreakDuration = TimeSpan.FromSeconds(30) }), _time);
        _runner = new EmailRunner(Options.Create(smtp.Options()), _breakers, NullLogger<EmailRunner>.Instance);
    }

    public void Dispose() => _breakers.Dispose();

    private static ActionWork Email(EmailSpec spec) =>
        new(Work.Event(Guid.NewGuid().ToString()), "big-orders", "mail-ops", spec, 1);

    [Fact]
    public async Task A_mail_arrives_in_the_real_smtp_server_with_the_rendered_subject_and_body_for_every_recipient()
    {
        var work = Email(new EmailSpec(["ops@example.com", "Shop Owner <owner@example.com>"], "Order 42 — ünï", "Total 101.50\nNote: “rush”"));

        var result = await _runner.RunAsync(work, CancellationToken.None);

        Assert.Equal(ActionOutcome.Succeeded, result.Outcome);
        var mail = Assert.Single(_smtp.MailFor(work.WebhookId));
        Assert.Equal("Order 42 — ünï", mail.Subject);
        Assert.Equal("Total 101.50\nNote: “rush”", mail.TextBody!.ReplaceLineEndings("\n").TrimEnd('\n'));
        Assert.Equal("observer@parley.test", mail.From.Mailboxes.Single().Address);
        Assert.Equal(["ops@example.com", "owner@example.com"], mail.To.Mailboxes.Select(m => m.Address));
        Assert.Equal("ops@example.com, owner@example.com", mail.Headers["X-RcptTo"]); // The envelope, as the server saw it.
    }

    [Fact]
    public async Task A_bad_recipient_address_fails_the_attempt_and_sends_nothing()
    {
        var work = Email(new EmailSpec(["not an address <"], "s", "b"));

        var result = await _runner.RunAsync(work, CancellationToken.None);

        Assert.Equal(ActionOutcome.Failed, result.Outcome);
        Assert.StartsWith("bad address", result.Error, StringComparison.Ordinal);
        Assert.Empty(_smtp.MailFor(work.WebhookId));
    }

    [Fact]
    public async Task With_the_smtp_server_down_an_attempt_fails_without_an_exception_and_the_next_one_after_its_restart_is_delivered()
    {
        var component = _smtp.Stack.Smtp!;
        var work = Email(new EmailSpec(["ops@example.com"], "down", "body"));
        Assert.Null(await _runner.CheckReachableAsync(CancellationToken.None));

        await component.StopAsync();
        try
        {
            var failed = await _runner.RunAsync(work, CancellationToken.None);
            Assert.Equal(ActionOutcome.Failed, failed.Outcome);
            Assert.Contains($"127.0.0.1:{component.Port}", failed.Error, StringComparison.Ordinal);
            Assert.NotNull(await _runner.CheckReachableAsync(CancellationToken.None));
        }
        finally
        {
            await component.StartAsync();
        }

        Assert.Equal(ActionOutcome.Succeeded, (await _runner.RunAsync(work with { Attempt = 2 }, CancellationToken.None)).Outcome);
        Assert.Single(_smtp.MailFor(work.WebhookId));
    }

    [Fact]
    public async Task An_smtp_server_that_keeps_failing_opens_its_breaker_mail_is_held_back_while_open_and_the_half_open_probe_closes_it()
    {
        var component = _smtp.Stack.Smtp!;
        var server = EndpointBreakers.EndpointOf(_runner.Server);
        var held = Email(new EmailSpec(["ops@example.com"], "held", "body"));
        await component.StopAsync();
        try
        {
            for (var i = 0; i < 2; i++)
                Assert.Equal(ActionOutcome.Failed, (await _runner.RunAsync(Email(new EmailSpec(["ops@example.com"], "down", "body")), CancellationToken.None)).Outcome);
            Assert.Equal(BreakerState.Open, _breakers.States()[server]);
        }
        finally
        {
            await component.StartAsync();
        }

        // The server is back, but the breaker is open: the attempt fails fast and nothing is sent.
        var fast = await _runner.RunAsync(held, CancellationToken.None);
        Assert.Equal(ActionOutcome.FailedFast, fast.Outcome);
        Assert.NotNull(fast.RetryAfter);
        Assert.Empty(_smtp.MailFor(held.WebhookId));

        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(ActionOutcome.Succeeded, (await _runner.RunAsync(held with { Attempt = 2 }, CancellationToken.None)).Outcome);
        Assert.Equal(BreakerState.Closed, _breakers.States()[server]);
        Assert.Single(_smtp.MailFor(held.WebhookId));
    }

    /// <summary>The runner over the chaos kit's fault proxy in front of the stack's SMTP server, sharing the test's breakers.</summary>
    private EmailRunner ThroughProxy(FaultProxy proxy, TimeSpan timeout)
    {
        var options = _smtp.Options();
        options.Port = proxy.Port;
        options.Timeout = timeout;
        return new EmailRunner(Options.Create(options), _breakers, NullLogger<EmailRunner>.Instance);
    }

    /// <summary>The fault proxy in front of the stack's SMTP server, hanging: connections are accepted and what the server says is held back, so no greeting ever arrives.</summary>
    private FaultProxy HungSmtp()
    {
        var proxy = FaultProxy.Start("smtp", _smtp.Stack.SmtpPort!.Value);
        proxy.Set(FaultDirection.Downstream, new LinkFaults { Hold = true });
        return proxy;
    }

    [Fact]
    public async Task An_smtp_server_that_hangs_times_out_opens_its_breaker_fails_fast_while_open_and_the_half_open_probe_closes_it_once_it_answers()
    {
        await using var proxy = HungSmtp();
        var runner = ThroughProxy(proxy, TimeSpan.FromMilliseconds(300));
        var server = EndpointBreakers.EndpointOf(runner.Server);
        for (var i = 0; i < 2; i++)
        {
            var hung = await runner.RunAsync(Email(new EmailSpec(["ops@example.com"], "hung", "body")), CancellationToken.None);
            Assert.Equal(ActionOutcome.Failed, hung.Outcome);
            Assert.Contains("timed out", hung.Error, StringComparison.Ordinal);
        }
        Assert.Equal(BreakerState.Open, _breakers.States()[server]);

        var held = Email(new EmailSpec(["ops@example.com"], "held while open", "body"));
        var accepted = proxy.AcceptedConnections;
        Assert.Equal(ActionOutcome.FailedFast, (await runner.RunAsync(held, CancellationToken.None)).Outcome);
        Assert.Equal(accepted, proxy.AcceptedConnections); // Not even connected to.

        proxy.Clear();
        _time.Advance(TimeSpan.FromSeconds(31));
        var probe = ThroughProxy(proxy, TimeSpan.FromSeconds(30)); // A loaded machine must not time the probe out.
        Assert.Equal(ActionOutcome.Succeeded, (await probe.RunAsync(held with { Attempt = 2 }, CancellationToken.None)).Outcome);
        Assert.Equal(BreakerState.Closed, _breakers.States()[server]);
        Assert.Single(_smtp.MailFor(held.WebhookId));
    }

    [Fact]
    public async Task A_hanging_smtp_server_cut_off_by_the_actions_own_timeout_counts_against_its_breaker_and_a_cut_off_probe_opens_it_again()
    {
        await using var proxy = HungSmtp();
        // The SMTP timeout is long; the worker's deadline for the attempt (the action's timeout, the token) ends it first.
        var runner = ThroughProxy(proxy, TimeSpan.FromSeconds(60));
        var server = EndpointBreakers.EndpointOf(runner.Server);
        async Task<ActionResult> CutOffAsync()
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            return await runner.RunAsync(Email(new EmailSpec(["ops@example.com"], "cut off", "body")), deadline.Token);
        }

        Assert.Equal(ActionOutcome.Failed, (await CutOffAsync()).Outcome);
        Assert.Equal(ActionOutcome.Failed, (await CutOffAsync()).Outcome);
        Assert.Equal(BreakerState.Open, _breakers.States()[server]);

        _time.Advance(TimeSpan.FromSeconds(31));
        var probe = await CutOffAsync();
        Assert.Equal(ActionOutcome.Failed, probe.Outcome);
        Assert.Contains("the action's timeout", probe.Error, StringComparison.Ordinal);
        Assert.Equal(BreakerState.Open, _breakers.States()[server]);
    }

    [Fact]
    public async Task A_bad_address_does_not_count_against_the_smtp_servers_breaker()
    {
        for (var i = 0; i < 3; i++)
            Assert.Equal(ActionOutcome.Failed, (await _runner.RunAsync(Email(new EmailSpec(["not an address <"], "s", "b")), CancellationToken.None)).Outcome);

        var work = Email(new EmailSpec(["ops@example.com"], "after bad addresses", "body"));
        Assert.Equal(ActionOutcome.Succeeded, (await _runner.RunAsync(work, CancellationToken.None)).Outcome);
        Assert.Single(_smtp.MailFor(work.WebhookId));
    }
}
