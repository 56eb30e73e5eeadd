using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Parley.Observer.Actions;

/// <summary>
/// One plain-text mail per email action over SMTP (MailKit), to every address of the action. Each mail carries
/// <see cref="ActionIdHeader"/> (the action's <c>webhook-id</c>), the same on every attempt, so repeats can be told apart.
/// A connection per mail: email actions are few, and a fresh connection never inherits a broken session.
/// Mails go through the SMTP server's circuit breaker (<see cref="EndpointBreakers"/>, endpoint <c>smtp://host:port/</c>),
/// as webhooks go through their endpoint's: a server that keeps failing or timing out is not called while open.
/// </summary>
public sealed partial class EmailRunner(IOptions<SmtpOptions> options, EndpointBreakers breakers, ILogger<EmailRunner> log) : IActionRunner
{
    /// <summary>The header naming the action a mail is for (<c>&lt;event id&gt;.&lt;rule&gt;.&lt;action&gt;</c>).</summary>
    public const string ActionIdHeader = "X-Parley-Action-Id";

    private readonly SmtpOptions _options = options.Value;

    /// <summary>The breaker key of the SMTP server.</summary>
    public Uri Server => new($"smtp://{_options.Host}:{_options.Port}/");

    public bool CanRun(ActionSpec spec) => spec is EmailSpec;

    public async Task<ActionResult> RunAsync(ActionWork work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        var spec = (EmailSpec)work.Spec;
        MimeMessage message;
        try
        {
            message = Compose(work.WebhookId, spec);
        }
        catch (ParseException e)
        {
            return new ActionResult(ActionOutcome.Failed, Error: $"bad address: {e.Message}");
        }
        var result = await breakers.ExecuteAsync(
            Server, token => new ValueTask<ActionResult>(WithClientAsync((client, t) => client.SendAsync(message, t), token)), ct).ConfigureAwait(false);
        if (result.Outcome != ActionOutcome.Succeeded)
            LogFailed(_options.Host, _options.Port, result.Status, result.Error);
        return result;
    }

    /// <summary>
    /// Connects, authenticates when configured and quits: null when the server answers, else what went wrong
    /// (for <c>parley observer config check</c>'s "unreachable SMTP settings").
    /// </summary>
    public async Task<string?> CheckReachableAsync(CancellationToken ct)
    {
        var result = await WithClientAsync((client, token) => client.NoOpAsync(token), ct).ConfigureAwait(false);
        return result.Outcome == ActionOutcome.Succeeded ? null : result.Error;
    }

    private MimeMessage Compose(string actionId, EmailSpec spec)
    {
        var message = new MimeMessage { Subject = spec.Subject, Body = new TextPart("plain") { Text = spec.Body } };
        message.From.Add(MailboxAddress.Parse(_options.From));
        message.To.AddRange(spec.To.Select(MailboxAddress.Parse));
        message.Headers.Add(ActionIdHeader, actionId);
        return message;
    }

    private async Task<ActionResult> WithClientAsync(Func<SmtpClient, CancellationToken, Task> use, CancellationToken ct)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attempt.CancelAfter(_options.Timeout);
        using var client = new SmtpClient { Timeout = (int)_options.Timeout.TotalMilliseconds };
        try
        {
            await client.ConnectAsync(_options.Host, _options.Port, _options.Security, attempt.Token).ConfigureAwait(false);
            if (_options.User is { Length: > 0 } user)
                await client.AuthenticateAsync(user, _options.Password ?? "", attempt.Token).ConfigureAwait(false);
            await use(client, attempt.Token).ConfigureAwait(false);
            await client.DisconnectAsync(quit: true, attempt.Token).ConfigureAwait(false);
            return ActionResult.Success();
        }
        // Ours or the worker's deadline (the action's timeout, often shorter): a server that hangs is a failed attempt either
        // way, so its breaker counts it; thrown through the breaker, a cancelled half-open probe would have closed it.
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
            var after = ct.IsCancellationRequested ? "the action's timeout" : $"{_options.Timeout.TotalSeconds:0.###} s";
            return new ActionResult(ActionOutcome.Failed, Error: $"SMTP {_options.Host}:{_options.Port} timed out after {after}");
        }
        catch (SmtpCommandException e)
        {
            return new ActionResult(ActionOutcome.Failed, (int)e.StatusCode, $"SMTP {(int)e.StatusCode}: {e.Message}");
        }
        catch (Exception e) when (e is SmtpProtocolException or AuthenticationException or SslHandshakeException or SocketException or IOException)
        {
            return new ActionResult(ActionOutcome.Failed, Error: $"SMTP {_options.Host}:{_options.Port}: {e.Message}");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Email action via {Host}:{Port} failed: status {Status}, {Error}")]
    private partial void LogFailed(string host, int port, int? status, string? error);
}
